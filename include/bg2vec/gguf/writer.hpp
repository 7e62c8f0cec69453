#pragma once
// Writes GGUF version 3 files, the layout file.hpp reads (see there): "GGUF", version, tensor count, key
// count, the keys in the order they were added, the tensor infos in the order they were added, zero padding
// to `general.alignment`, and the tensor data, each tensor at the next multiple of the alignment from the
// start of the data section (zero padding between them). Everything is checked as it is added (a key or
// tensor name used twice, 1-4 positive dimensions, a first dimension that is a multiple of the type's block
// size, data of exactly the type's size for the shape), so that a file it writes is one the reader, and
// llama.cpp's gguf_init_from_file, accept. The file is written to a temporary beside its target and renamed.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/gguf/types.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace bg2vec::gguf {

class GgufWriter {
 public:
  static constexpr uint32_t kVersion = 3;

  // general.alignment is written first (as uint32, what the reader requires), so that every file says it.
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {
    require(std::has_single_bit(alignment), "GGUF alignment must be a nonzero power of two, got " + std::to_string(alignment));
    add_u32("general.alignment", alignment);
  }

  uint32_t alignment() const { return alignment_; }

  // Metadata. Keys must be unique and non-empty.
  void add_string(const std::string& key, const std::string& value) {
    begin_key(key, ValueType::String);
    put_string(kv_, value);
  }
  void add_u32(const std::string& key, uint32_t value) { scalar(key, ValueType::U32, value); }
  void add_i32(const std::string& key, int32_t value) { scalar(key, ValueType::I32, value); }
  void add_u64(const std::string& key, uint64_t value) { scalar(key, ValueType::U64, value); }
  void add_f32(const std::string& key, float value) { scalar(key, ValueType::F32, value); }
  void add_bool(const std::string& key, bool value) { scalar(key, ValueType::Bool, uint8_t(value ? 1 : 0)); }
  void add_strings(const std::string& key, const std::vector<std::string>& values) {
    begin_array(key, ValueType::String, values.size());
    for (const auto& v : values) put_string(kv_, v);
  }
  void add_f32s(const std::string& key, const std::vector<float>& values) { array(key, ValueType::F32, values); }
  void add_i32s(const std::string& key, const std::vector<int32_t>& values) { array(key, ValueType::I32, values); }
  void add_bools(const std::string& key, const std::vector<bool>& values) {
    begin_array(key, ValueType::Bool, values.size());
    for (bool v : values) put(kv_, uint8_t(v ? 1 : 0));
  }

  // A tensor: `dims` in GGUF order (dims[0] the contiguous dimension, i.e. a row-major shape reversed) and
  // its bytes as stored for `type`.
  void add_tensor(const std::string& name, const std::vector<int64_t>& dims, GgmlType type, std::vector<std::byte> data) {
    if (name.empty()) fail("GGUF tensor names must not be empty");
    if (!tensor_names_.insert(name).second) fail("GGUF tensor '" + name + "' added twice");
    if (dims.empty() || dims.size() > GgufFile::kMaxDims)
      fail("GGUF tensor '" + name + "' has " + std::to_string(dims.size()) + " dimensions, expected 1 to 4");
    const TypeInfo* info = find_type(uint32_t(type));
    if (!info) fail("GGUF tensor '" + name + "': unknown type id " + std::to_string(uint32_t(type)));
    int64_t elements = 1;
    for (int64_t d : dims) {
      if (d <= 0) fail("GGUF tensor '" + name + "' has a dimension " + std::to_string(d) + ", expected positive sizes");
      elements *= d;
    }
    if (dims[0] % info->block_size)
      fail("GGUF tensor '" + name + "': first dimension " + std::to_string(dims[0]) + " is not a multiple of the " +
           std::string(info->name) + " block size " + std::to_string(info->block_size));
    const uint64_t bytes = uint64_t(elements / info->block_size * info->block_bytes);
    if (data.size() != bytes)
      fail("GGUF tensor '" + name + "': " + std::to_string(data.size()) + " bytes of data, " + std::string(info->name) +
           " of this shape takes " + std::to_string(bytes));
    put_string(infos_, name);
    put(infos_, uint32_t(dims.size()));
    for (int64_t d : dims) put(infos_, uint64_t(d));
    put(infos_, uint32_t(type));
    put(infos_, data_size_);
    data_size_ += padded(bytes);
    tensors_.push_back(std::move(data));
  }

  size_t key_count() const { return key_count_; }
  size_t tensor_count() const { return tensors_.size(); }

  // The whole file, written atomically.
  void write(const std::filesystem::path& path) const {
    AtomicFile file(path);
    auto& out = file.stream();
    std::string header;
    put(header, uint32_t(0x46554747u));   // "GGUF"
    put(header, kVersion);
    put(header, uint64_t(tensors_.size()));
    put(header, uint64_t(key_count_));
    out.write(header.data(), std::streamsize(header.size()));
    out.write(kv_.data(), std::streamsize(kv_.size()));
    out.write(infos_.data(), std::streamsize(infos_.size()));
    const uint64_t head = header.size() + kv_.size() + infos_.size();
    zeros(out, padded(head) - head);
    for (const auto& t : tensors_) {
      out.write(reinterpret_cast<const char*>(t.data()), std::streamsize(t.size()));
      zeros(out, padded(t.size()) - t.size());
    }
    file.commit();
  }

 private:
  template <class T>
  static void put(std::string& out, T v) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out.append(bytes, sizeof(T));
  }
  static void put_string(std::string& out, const std::string& s) {
    put(out, uint64_t(s.size()));
    out += s;
  }

  void begin_key(const std::string& key, ValueType type) {
    if (key.empty()) fail("GGUF metadata keys must not be empty");
    if (!keys_.insert(key).second) fail("GGUF metadata key '" + key + "' added twice");
    put_string(kv_, key);
    put(kv_, uint32_t(type));
    ++key_count_;
  }
  template <class T>
  void scalar(const std::string& key, ValueType type, T v) {
    begin_key(key, type);
    put(kv_, v);
  }
  void begin_array(const std::string& key, ValueType element, size_t count) {
    begin_key(key, ValueType::Array);
    put(kv_, uint32_t(element));
    put(kv_, uint64_t(count));
  }
  template <class T>
  void array(const std::string& key, ValueType element, const std::vector<T>& values) {
    begin_array(key, element, values.size());
    for (const T& v : values) put(kv_, v);
  }

  uint64_t padded(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }
  static void zeros(std::ostream& out, uint64_t n) {
    static const char pad[256] = {};
    while (n > 0) {
      const uint64_t k = std::min<uint64_t>(n, sizeof pad);
      out.write(pad, std::streamsize(k));
      n -= k;
    }
  }

  uint32_t alignment_;
  std::string kv_, infos_;
  size_t key_count_ = 0;
  std::set<std::string> keys_, tensor_names_;
  std::vector<std::vector<std::byte>> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace bg2vec::gguf
