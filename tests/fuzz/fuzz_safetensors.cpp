// safetensors: the 8-byte header length, the JSON header (dtypes, shapes, data offsets, __metadata__)
// and every tensor read as its readers read it.
#include "fuzz_support.hpp"

#include <bg2vec/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("model.safetensors", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const io::SafetensorsFile file(path);
    for (const auto& entry : file.tensors()) {
      const std::string& name = entry.first;   // (clang 14 captures no structured bindings)
      const io::TensorInfo& info = entry.second;
      fuzz::check(file.bytes(name).size() == size_t(info.elements()) * dtype_size(info.dtype), "a tensor's bytes are its shape's");
      fuzz::refusals_allowed([&] { (void)file.read_float32(name); });
      fuzz::refusals_allowed([&] { (void)file.read_int64(name); });
    }
  });
  return 0;
}
