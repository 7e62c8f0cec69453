// GGUF: header, metadata (every accessor on every key), tensor infos and the dequantization of every
// tensor, to float32 and bf16.
#include "fuzz_support.hpp"

#include <bg2vec/gguf/file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("model.gguf", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const gguf::GgufFile file(path);
    for (const std::string& key : file.keys()) {
      fuzz::refusals_allowed([&] { (void)file.string(key); });
      fuzz::refusals_allowed([&] { (void)file.integer(key); });
      fuzz::refusals_allowed([&] { (void)file.number(key); });
      fuzz::refusals_allowed([&] { (void)file.find_bool(key); });
      fuzz::refusals_allowed([&] { (void)file.strings(key); });
      fuzz::refusals_allowed([&] { (void)file.numbers(key); });
      fuzz::refusals_allowed([&] { (void)file.integers(key); });
    }
    for (const gguf::TensorInfo& t : file.tensors()) {
      fuzz::check(file.data(t).size() == t.size_bytes, "a tensor's bytes are its size");
      fuzz::refusals_allowed([&] {
        const std::vector<float> values = file.read_float32(t);
        std::vector<uint16_t> halves(values.size());
        file.read_bf16(t, halves);
      });
    }
  });
  return 0;
}
