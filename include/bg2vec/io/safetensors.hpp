#pragma once
// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data.
// The reader validates everything the header claims before any tensor is touched; the writer
// produces files that the `safetensors` Python package reads.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/io/mapped_file.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace bg2vec::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t begin = 0, end = 0;           // byte offsets within the data section
  int64_t elements() const { return element_count(shape); }
};

inline std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path) : file_(path) { parse_header(); }

  const std::filesystem::path& path() const { return file_.path(); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const TensorInfo& info(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) fail(path(), "no tensor named '" + name + "'");
    return it->second;
  }

  std::span<const std::byte> bytes(const std::string& name) const {
    const TensorInfo& t = info(name);
    return file_.bytes().subspan(data_start_ + t.begin, t.end - t.begin);
  }

  // Any floating-point tensor, converted to float32 into `out` (which must have its element count).
  void read_float32(const std::string& name, std::span<float> out) const {
    const TensorInfo& t = info(name);
    if (!is_float(t.dtype))
      fail(path(), "tensor '" + name + "' has dtype " + std::string(dtype_name(t.dtype)) + ", expected a float type");
    if (size_t(t.elements()) != out.size())
      fail(path(), "tensor '" + name + "' has " + std::to_string(t.elements()) + " elements, expected " +
                       std::to_string(out.size()));
    to_float32(t.dtype, bytes(name).data(), out.data(), out.size());
    file_.release(bytes(name));   // converted: its pages need not stay resident
  }

  std::vector<float> read_float32(const std::string& name) const {
    std::vector<float> out(size_t(info(name).elements()));
    read_float32(name, out);
    return out;
  }

  // Integer tensors (I64, I32) as int64.
  std::vector<int64_t> read_int64(const std::string& name) const {
    const TensorInfo& t = info(name);
    if (t.dtype != DType::I64 && t.dtype != DType::I32)
      fail(path(), "tensor '" + name + "' has dtype " + std::string(dtype_name(t.dtype)) + ", expected I64 or I32");
    std::vector<int64_t> out(size_t(t.elements()));
    if (out.empty()) return out;   // no memcpy to or from a null pointer (fuzz_safetensors, UBSan)
    const std::byte* p = bytes(name).data();
    if (t.dtype == DType::I64) std::memcpy(out.data(), p, out.size() * 8);
    else
      for (size_t i = 0; i < out.size(); ++i) { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; }
    return out;
  }

 private:
  void parse_header() {
    const auto all = file_.bytes();
    if (all.size() < 8) fail(path(), "truncated safetensors file (" + std::to_string(all.size()) + " bytes, no header)");
    uint64_t header_len = 0;
    std::memcpy(&header_len, all.data(), 8);
    if (header_len > all.size() - 8)
      fail(path(), "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                       std::to_string(all.size()) + " bytes): truncated or not a safetensors file");
    data_start_ = 8 + size_t(header_len);
    const size_t data_size = all.size() - data_start_;
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(all.data()) + 8,
                                     reinterpret_cast<const char*>(all.data()) + data_start_);
    } catch (const nlohmann::json::exception& e) {
      fail(path(), std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(path(), "header is not a JSON object");
    for (auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail(path(), "__metadata__ is not an object");
        for (auto& [k, v] : entry.items())
          metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
        continue;
      }
      tensors_[name] = parse_entry(name, entry, data_size);
    }
    check_no_overlap();
  }

  TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry, size_t data_size) const {
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail(path(), where + "header entry needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string() || !parse_dtype(dtype.get<std::string>(), t.dtype))
      fail(path(), where + "unknown dtype " + dtype.dump());
    const auto& shape = entry["shape"];
    const auto& offsets = entry["data_offsets"];
    if (!shape.is_array()) fail(path(), where + "shape is not an array");
    // The element count, checked for overflow before anything multiplies it: a shape of 2^62 x 4 float32
    // would wrap to 0 bytes and pass for an empty tensor.
    uint64_t elements = 1;
    bool too_many = false;
    for (const auto& d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(path(), where + "bad dimension " + d.dump());
      t.shape.push_back(d.get<int64_t>());
      too_many = too_many || __builtin_mul_overflow(elements, uint64_t(t.shape.back()), &elements);
    }
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      fail(path(), where + "data_offsets must be two non-negative integers");
    t.begin = offsets[0].get<size_t>();
    t.end = offsets[1].get<size_t>();
    if (t.begin > t.end || t.end > data_size)
      fail(path(), where + "data offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                       ") out of range of the " + std::to_string(data_size) + "-byte data section (truncated file?)");
    if (too_many || elements > std::numeric_limits<size_t>::max() / dtype_size(t.dtype))
      fail(path(), where + "shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) +
                       " has too many elements (its byte size overflows 64 bits)");
    if (size_t(t.elements()) * dtype_size(t.dtype) != t.end - t.begin)
      fail(path(), where + "shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                       std::to_string(size_t(t.elements()) * dtype_size(t.dtype)) + " bytes, offsets give " +
                       std::to_string(t.end - t.begin));
    return t;
  }

  void check_no_overlap() const {
    std::vector<const TensorInfo*> sorted;
    for (const auto& [name, t] : tensors_) if (t.end > t.begin) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i]->begin < sorted[i - 1]->end)
        fail(path(), "tensors '" + sorted[i - 1]->name + "' and '" + sorted[i]->name + "' overlap in the data section");
  }

  MappedFile file_;
  size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors, then writes them in one go (temp file + rename).
class SafetensorsWriter {
 public:
  void add(const std::string& name, DType dtype, const Shape& shape, std::span<const std::byte> data) {
    if (size_t(element_count(shape)) * dtype_size(dtype) != data.size())
      throw Error("safetensors writer: tensor '" + name + "' shape " + shape_string(shape) + " does not match its data");
    if (!names_.insert(name).second) throw Error("safetensors writer: tensor '" + name + "' added twice");
    entries_.push_back({name, dtype, shape, std::vector<std::byte>(data.begin(), data.end())});
  }
  void add(const std::string& name, const Shape& shape, std::span<const float> data) {
    add(name, DType::F32, shape, std::as_bytes(data));
  }
  void add(const std::string& name, const Shape& shape, std::span<const int64_t> data) {
    add(name, DType::I64, shape, std::as_bytes(data));
  }
  // float32 data stored as bf16 (halves checkpoint size).
  void add_bf16(const std::string& name, const Shape& shape, std::span<const float> data) {
    std::vector<uint16_t> h(data.size());
    for (size_t i = 0; i < data.size(); ++i) h[i] = f32_to_bf16(data[i]);
    add(name, DType::BF16, shape, std::as_bytes(std::span<const uint16_t>(h)));
  }
  void metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  void save(const std::filesystem::path& path) const {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    size_t offset = 0;
    for (const auto& e : entries_) {
      header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.data.size()}}};
      offset += e.data.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');    // align the data section to 8 bytes, as HF does
    const uint64_t len = text.size();
    AtomicFile out(path);
    out.stream().write(reinterpret_cast<const char*>(&len), 8);
    out.stream().write(text.data(), std::streamsize(text.size()));
    for (const auto& e : entries_)
      out.stream().write(reinterpret_cast<const char*>(e.data.data()), std::streamsize(e.data.size()));
    out.commit();
  }

 private:
  struct Entry { std::string name; DType dtype; Shape shape; std::vector<std::byte> data; };
  std::vector<Entry> entries_;
  std::set<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace bg2vec::io
