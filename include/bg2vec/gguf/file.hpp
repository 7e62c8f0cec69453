#pragma once
// llama.cpp's GGUF files, read in place from a memory map. Layout (little-endian): "GGUF", u32 version
// (2 or 3), u64 tensor count, u64 key count; the keys (string key, u32 value type, value); the tensor
// infos (string name, u32 n_dims, n_dims x u64 dims, u32 type, u64 offset); padding to general.alignment
// (default 32); the tensor data, each tensor at an aligned offset from the start of the data section.
// A string is a u64 length and its bytes; an array a u32 element type, a u64 count and its elements.
// Everything the header claims (counts, lengths, dimensions, types, sizes, offsets) is checked when the
// file is opened, before anything is allocated from it, so that a damaged file fails there with one line
// that names the file and the problem, and nothing reads outside the map afterwards.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/gguf/dequantize.hpp>
#include <bg2vec/gguf/types.hpp>
#include <bg2vec/io/mapped_file.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bg2vec::gguf {

static_assert(std::endian::native == std::endian::little, "the GGUF reader reads little-endian values in place");

enum class ValueType : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64 };

inline constexpr std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "uint8";     case ValueType::I8: return "int8";
    case ValueType::U16: return "uint16";   case ValueType::I16: return "int16";
    case ValueType::U32: return "uint32";   case ValueType::I32: return "int32";
    case ValueType::F32: return "float32";  case ValueType::Bool: return "bool";
    case ValueType::String: return "string"; case ValueType::Array: return "array";
    case ValueType::U64: return "uint64";   case ValueType::I64: return "int64";
    case ValueType::F64: return "float64";
  }
  return "?";
}

inline constexpr bool is_integer(ValueType t) {
  return t == ValueType::U8 || t == ValueType::I8 || t == ValueType::U16 || t == ValueType::I16 ||
         t == ValueType::U32 || t == ValueType::I32 || t == ValueType::U64 || t == ValueType::I64;
}
inline constexpr bool is_float(ValueType t) { return t == ValueType::F32 || t == ValueType::F64; }

// Bytes of one stored scalar; 0 for strings and arrays (variable length).
inline constexpr size_t scalar_bytes(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;
  }
}

// One metadata value: a scalar, a string, or an array of one element type (arrays of arrays are refused).
// Scalars hold unsigned integers as uint64_t, signed ones as int64_t, floats as double. Arrays of strings
// are decoded; other arrays stay as their stored bytes, a view into the file's map that GgufFile::numbers
// and integers decode on request (a Value lives as long as its GgufFile).
struct Value {
  ValueType type = ValueType::U8;
  ValueType element_type = ValueType::U8;                              // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;   // not arrays
  uint64_t count = 0;                                                  // arrays: number of elements
  std::vector<std::string> strings;                                    // arrays of strings
  std::span<const std::byte> elements;                                 // other arrays, as stored

  bool is_array() const { return type == ValueType::Array; }
  // "uint32", "string", "array of float32": how messages name what a key holds.
  std::string describe() const {
    return is_array() ? "array of " + std::string(value_type_name(element_type)) : std::string(value_type_name(type));
  }
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims;   // GGUF order: dims[0] is the contiguous (fastest) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;         // from the start of the data section
  uint64_t size_bytes = 0;

  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  // Row-major (numpy) order: GGUF's dimensions reversed.
  Shape shape() const { return Shape(dims.rbegin(), dims.rend()); }
};

namespace detail {

// Reads little-endian fields in sequence, each one checked against the end of the file. `context` says
// where the parser is (set once per key or tensor, so that reading costs no string work).
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const std::filesystem::path& path) : bytes_(bytes), path_(path) {}

  std::string context;   // e.g. "tensor 'x': ", the start of every message

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      fail(path_, "truncated file (" + std::to_string(bytes_.size()) + " bytes): " + context + std::string(what) +
                      " at byte " + std::to_string(pos_) + " needs " + std::to_string(n) + " bytes");
  }

  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::span<const std::byte> take(uint64_t n, std::string_view what) {
    need(n, what);
    const auto span = bytes_.subspan(pos_, size_t(n));
    pos_ += size_t(n);
    return span;
  }

  std::string string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      fail(path_, context + std::string(what) + " has length " + std::to_string(n) + ", past the end of the file (" +
                      std::to_string(remaining()) + " bytes left at byte " + std::to_string(pos_) + "): truncated or damaged");
    const auto bytes = take(n, what);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

 private:
  std::span<const std::byte> bytes_;
  const std::filesystem::path& path_;
  size_t pos_ = 0;
};

template <class T>
T element(std::span<const std::byte> elements, size_t i) {
  T v;
  std::memcpy(&v, elements.data() + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace detail

class GgufFile {
 public:
  // Smallest possible entries, which bound what the counts in the header can claim.
  static constexpr uint64_t kMinKeyBytes = 8 + 4 + 1;                  // empty key, type, 1-byte value
  static constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;   // empty name, 1 dimension, type, offset
  static constexpr uint32_t kMaxDims = 4;                              // GGML_MAX_DIMS

  explicit GgufFile(const std::filesystem::path& path) : file_(path) { parse(); }

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_start_; }   // where the data section starts in the file

  // Metadata.
  const std::vector<std::string>& keys() const { return keys_; }   // file order
  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
  const Value& value(std::string_view key) const {
    auto it = values_.find(key);
    if (it == values_.end()) fail(path(), "no metadata key '" + std::string(key) + "'");
    return it->second;
  }

  std::string string(std::string_view key) const {
    const Value& v = value(key);
    if (v.type != ValueType::String) mismatch(key, v, "a string");
    return std::get<std::string>(v.scalar);
  }
  std::optional<std::string> find_string(std::string_view key) const {
    return has(key) ? std::optional(string(key)) : std::nullopt;
  }

  // Any integer type; a uint64 above INT64_MAX is refused.
  int64_t integer(std::string_view key) const {
    const Value& v = value(key);
    if (!is_integer(v.type)) mismatch(key, v, "an integer");
    if (const auto* u = std::get_if<uint64_t>(&v.scalar)) {
      if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(path(), "metadata key '" + std::string(key) + "' is " + std::to_string(*u) + ", too large for int64");
      return int64_t(*u);
    }
    return std::get<int64_t>(v.scalar);
  }
  std::optional<int64_t> find_integer(std::string_view key) const {
    return has(key) ? std::optional(integer(key)) : std::nullopt;
  }

  // Any integer or float type.
  double number(std::string_view key) const {
    const Value& v = value(key);
    if (is_float(v.type)) return std::get<double>(v.scalar);
    if (!is_integer(v.type)) mismatch(key, v, "a number");
    if (const auto* u = std::get_if<uint64_t>(&v.scalar)) return double(*u);
    return double(std::get<int64_t>(v.scalar));
  }
  std::optional<double> find_number(std::string_view key) const {
    return has(key) ? std::optional(number(key)) : std::nullopt;
  }

  std::optional<bool> find_bool(std::string_view key) const {
    if (!has(key)) return std::nullopt;
    const Value& v = value(key);
    if (v.type != ValueType::Bool) mismatch(key, v, "a bool");
    return std::get<bool>(v.scalar);
  }

  const std::vector<std::string>& strings(std::string_view key) const {
    const Value& v = value(key);
    if (!v.is_array() || v.element_type != ValueType::String) mismatch(key, v, "an array of strings");
    return v.strings;
  }

  // An array of any integer or float type.
  std::vector<double> numbers(std::string_view key) const {
    const Value& v = value(key);
    if (!v.is_array() || !(is_integer(v.element_type) || is_float(v.element_type))) mismatch(key, v, "a numeric array");
    std::vector<double> out(size_t(v.count));
    for (size_t i = 0; i < out.size(); ++i) {
      switch (v.element_type) {
        case ValueType::F32: out[i] = detail::element<float>(v.elements, i); break;
        case ValueType::F64: out[i] = detail::element<double>(v.elements, i); break;
        case ValueType::U64: out[i] = double(detail::element<uint64_t>(v.elements, i)); break;
        default: out[i] = double(integer_element(v, i)); break;
      }
    }
    return out;
  }

  // An array of any integer type, or of bools (as 0 and 1).
  std::vector<int64_t> integers(std::string_view key) const {
    const Value& v = value(key);
    if (!v.is_array() || !(is_integer(v.element_type) || v.element_type == ValueType::Bool))
      mismatch(key, v, "an integer array");
    std::vector<int64_t> out(size_t(v.count));
    for (size_t i = 0; i < out.size(); ++i) {
      if (v.element_type == ValueType::U64 && detail::element<uint64_t>(v.elements, i) > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(path(), "metadata key '" + std::string(key) + "' element " + std::to_string(i) + " is " +
                         std::to_string(detail::element<uint64_t>(v.elements, i)) + ", too large for int64");
      out[i] = integer_element(v, i);
    }
    return out;
  }

  // Tensors, in file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }
  const TensorInfo& tensor(std::string_view name) const {
    const TensorInfo* t = find_tensor(name);
    if (!t) fail(path(), "no tensor named '" + std::string(name) + "'");
    return *t;
  }

  // The tensor's bytes as stored: a view into the map.
  std::span<const std::byte> data(const TensorInfo& t) const {
    if (t.offset > data_size_ || t.size_bytes > data_size_ - t.offset)
      fail(path(), "tensor '" + t.name + "' is not inside this file's data section");
    return file_.bytes().subspan(size_t(data_start_ + t.offset), size_t(t.size_bytes));
  }

  // Fails naming the tensor and its type when we cannot dequantize it.
  void check_supported(const TensorInfo& t) const {
    if (!is_supported(t.type))
      fail(path(), "tensor '" + t.name + "' has type " + std::string(type_name(t.type)) +
                       ", which is not supported (supported: " + supported_type_names() + ")");
  }

  // Dequantized; `out` must have the tensor's element count.
  void read_float32(const TensorInfo& t, std::span<float> out) const {
    check_output(t, out.size());
    dequantize(t.type, data(t), out);
    file_.release(data(t));   // converted: its pages need not stay resident
  }
  std::vector<float> read_float32(const TensorInfo& t) const {
    check_supported(t);
    std::vector<float> out(size_t(t.elements()));
    read_float32(t, out);
    return out;
  }
  // Dequantized to float32, then rounded to bf16 (round to nearest even).
  void read_bf16(const TensorInfo& t, std::span<uint16_t> out) const {
    check_output(t, out.size());
    dequantize_bf16(t.type, data(t), out);
  }

 private:
  void parse() {
    detail::Cursor in(file_.bytes(), path());
    in.context = "header: ";
    const uint32_t magic = in.read<uint32_t>("magic");
    if (magic != 0x46554747u) {   // "GGUF" read as a little-endian u32
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", magic);
      fail(path(), std::string("not a GGUF file: bad magic ") + hex + " (expected \"GGUF\")");
    }
    version_ = in.read<uint32_t>("version");
    if (version_ == 1) fail(path(), "GGUF version 1 is not supported (only versions 2 and 3)");
    if (version_ != 2 && version_ != 3) {
      const uint32_t swapped = (version_ >> 24) | ((version_ >> 8) & 0xff00u) | ((version_ << 8) & 0xff0000u) | (version_ << 24);
      fail(path(), "unsupported GGUF version " + std::to_string(version_) +
                       (swapped == 2 || swapped == 3 ? " (a big-endian file? only little-endian ones are supported)"
                                                     : " (only versions 2 and 3)"));
    }
    const uint64_t tensor_count = in.read<uint64_t>("tensor count");
    const uint64_t kv_count = in.read<uint64_t>("key count");

    if (kv_count > in.remaining() / kMinKeyBytes)
      fail(path(), "key count " + std::to_string(kv_count) + " is too large for the file (each key takes at least " +
                       std::to_string(kMinKeyBytes) + " bytes, " + std::to_string(in.remaining()) +
                       " follow the header): truncated or damaged");
    keys_.reserve(size_t(kv_count));
    for (uint64_t i = 0; i < kv_count; ++i) {
      in.context = "metadata key " + std::to_string(i) + ": ";
      std::string key = in.string("key");
      in.context = "metadata key '" + key + "': ";
      if (has(key)) fail(path(), "duplicate metadata key '" + key + "'");
      const uint32_t type = in.read<uint32_t>("value type");
      Value v = read_value(in, type);
      keys_.push_back(key);
      values_.emplace(std::move(key), std::move(v));
    }
    read_alignment();

    if (tensor_count > in.remaining() / kMinTensorInfoBytes)
      fail(path(), "tensor count " + std::to_string(tensor_count) + " is too large for the file (each tensor info takes at least " +
                       std::to_string(kMinTensorInfoBytes) + " bytes, " + std::to_string(in.remaining()) +
                       " follow the metadata): truncated or damaged");
    tensors_.reserve(size_t(tensor_count));
    for (uint64_t i = 0; i < tensor_count; ++i) tensors_.push_back(read_tensor_info(in, i));

    // The data section starts at the next multiple of the alignment (from the start of the file).
    data_start_ = in.pos() + (alignment_ - in.pos() % alignment_) % alignment_;
    if (!tensors_.empty() && data_start_ > file_.size())
      fail(path(), "truncated file (" + std::to_string(file_.size()) + " bytes): the data section would start at byte " +
                       std::to_string(data_start_));
    data_size_ = data_start_ <= file_.size() ? file_.size() - data_start_ : 0;
    check_data_ranges();
  }

  Value read_value(detail::Cursor& in, uint32_t type_id) {
    Value v;
    if (type_id > uint32_t(ValueType::F64)) fail(path(), in.context + "unknown value type " + std::to_string(type_id));
    v.type = ValueType(type_id);
    switch (v.type) {
      case ValueType::U8: v.scalar = uint64_t(in.read<uint8_t>("value")); break;
      case ValueType::U16: v.scalar = uint64_t(in.read<uint16_t>("value")); break;
      case ValueType::U32: v.scalar = uint64_t(in.read<uint32_t>("value")); break;
      case ValueType::U64: v.scalar = in.read<uint64_t>("value"); break;
      case ValueType::I8: v.scalar = int64_t(in.read<int8_t>("value")); break;
      case ValueType::I16: v.scalar = int64_t(in.read<int16_t>("value")); break;
      case ValueType::I32: v.scalar = int64_t(in.read<int32_t>("value")); break;
      case ValueType::I64: v.scalar = in.read<int64_t>("value"); break;
      case ValueType::F32: v.scalar = double(in.read<float>("value")); break;
      case ValueType::F64: v.scalar = in.read<double>("value"); break;
      case ValueType::Bool: v.scalar = in.read<uint8_t>("value") != 0; break;
      case ValueType::String: v.scalar = in.string("string"); break;
      case ValueType::Array: read_array(in, v); break;
    }
    return v;
  }

  void read_array(detail::Cursor& in, Value& v) {
    const uint32_t element_id = in.read<uint32_t>("array element type");
    if (element_id > uint32_t(ValueType::F64))
      fail(path(), in.context + "unknown array element type " + std::to_string(element_id));
    v.element_type = ValueType(element_id);
    if (v.element_type == ValueType::Array) fail(path(), in.context + "arrays of arrays are not supported");
    v.count = in.read<uint64_t>("array length");
    const bool strings = v.element_type == ValueType::String;
    const uint64_t min_bytes = strings ? 8 : scalar_bytes(v.element_type);
    if (v.count > in.remaining() / min_bytes)
      fail(path(), in.context + "array of " + std::to_string(v.count) + " " + std::string(value_type_name(v.element_type)) +
                       " elements runs past the end of the file (" + std::to_string(in.remaining()) + " bytes left at byte " +
                       std::to_string(in.pos()) + "): truncated or damaged");
    if (!strings) {
      v.elements = in.take(v.count * min_bytes, "array");
      return;
    }
    v.strings.reserve(size_t(v.count));
    for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(in.string("array string"));
  }

  void read_alignment() {
    auto it = values_.find(std::string_view("general.alignment"));
    if (it == values_.end()) return;
    if (it->second.type != ValueType::U32) mismatch("general.alignment", it->second, "uint32");
    alignment_ = std::get<uint64_t>(it->second.scalar);
    if (!std::has_single_bit(alignment_))
      fail(path(), "general.alignment is " + std::to_string(alignment_) + ", expected a nonzero power of two");
  }

  TensorInfo read_tensor_info(detail::Cursor& in, uint64_t index) {
    TensorInfo t;
    in.context = "tensor info " + std::to_string(index) + ": ";
    t.name = in.string("name");
    in.context = "tensor '" + t.name + "': ";
    if (tensor_index_.count(t.name)) fail(path(), "duplicate tensor name '" + t.name + "'");
    const uint32_t n_dims = in.read<uint32_t>("dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(path(), in.context + std::to_string(n_dims) + " dimensions, expected 1 to " + std::to_string(kMaxDims));
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t size = in.read<uint64_t>("dimension");
      if (size == 0 || size > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(path(), in.context + "dimension " + std::to_string(d) + " is " + std::to_string(int64_t(size)) +
                         ", expected a positive size");
      if (int64_t(size) > std::numeric_limits<int64_t>::max() / elements)
        fail(path(), in.context + "the element count overflows int64");
      elements *= int64_t(size);
      t.dims.push_back(int64_t(size));
    }
    const uint32_t type_id = in.read<uint32_t>("type");
    const TypeInfo* type = find_type(type_id);
    if (!type) {
      const std::string_view retired = retired_type_name(type_id);
      fail(path(), in.context + "unknown type id " + std::to_string(type_id) +
                       (retired.empty() ? "" : " (" + std::string(retired) + ", which ggml has removed)"));
    }
    t.type = type->type;
    if (t.dims[0] % type->block_size != 0)
      fail(path(), in.context + "first dimension " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                       std::string(type->name) + " block size " + std::to_string(type->block_size));
    const uint64_t blocks = uint64_t(elements / type->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / uint64_t(type->block_bytes))
      fail(path(), in.context + "the data size overflows");
    t.size_bytes = blocks * uint64_t(type->block_bytes);
    t.offset = in.read<uint64_t>("data offset");
    tensor_index_.emplace(t.name, size_t(index));
    return t;
  }

  // Every tensor inside the data section, aligned, and no two sharing a byte.
  void check_data_ranges() const {
    for (const TensorInfo& t : tensors_) {
      if (t.offset % alignment_ != 0)
        fail(path(), "tensor '" + t.name + "' has data offset " + std::to_string(t.offset) +
                         ", not a multiple of the alignment " + std::to_string(alignment_));
      if (t.offset > data_size_ || t.size_bytes > data_size_ - t.offset)
        fail(path(), "tensor '" + t.name + "' data (" + std::to_string(t.size_bytes) + " bytes at offset " +
                         std::to_string(t.offset) + ") runs past the end of the " + std::to_string(data_size_) +
                         "-byte data section: truncated or damaged");
    }
    std::vector<const TensorInfo*> sorted;
    for (const TensorInfo& t : tensors_) sorted.push_back(&t);
    std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i]->offset < sorted[i - 1]->offset + sorted[i - 1]->size_bytes)
        fail(path(), "tensors '" + sorted[i - 1]->name + "' and '" + sorted[i]->name + "' overlap in the data section");
  }

  void check_output(const TensorInfo& t, size_t size) const {
    check_supported(t);
    if (size != size_t(t.elements()))
      fail(path(), "tensor '" + t.name + "' has " + std::to_string(t.elements()) + " elements, the output " +
                       std::to_string(size));
  }

  [[noreturn]] void mismatch(std::string_view key, const Value& v, std::string_view expected) const {
    fail(path(), "metadata key '" + std::string(key) + "' is " + v.describe() + ", expected " + std::string(expected));
  }

  // Element i of an integer array other than uint64, or of bools.
  static int64_t integer_element(const Value& v, size_t i) {
    switch (v.element_type) {
      case ValueType::Bool: return detail::element<uint8_t>(v.elements, i) != 0;
      case ValueType::U8: return detail::element<uint8_t>(v.elements, i);
      case ValueType::I8: return detail::element<int8_t>(v.elements, i);
      case ValueType::U16: return detail::element<uint16_t>(v.elements, i);
      case ValueType::I16: return detail::element<int16_t>(v.elements, i);
      case ValueType::U32: return detail::element<uint32_t>(v.elements, i);
      case ValueType::I32: return detail::element<int32_t>(v.elements, i);
      case ValueType::I64: return detail::element<int64_t>(v.elements, i);
      case ValueType::U64: return int64_t(detail::element<uint64_t>(v.elements, i));
      default: return 0;
    }
  }

  io::MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0, data_size_ = 0;
  std::vector<std::string> keys_;
  std::map<std::string, Value, std::less<>> values_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace bg2vec::gguf
