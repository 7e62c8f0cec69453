// Dequantization of every GGUF block type, straight from bytes: the first byte picks the type (any id,
// supported or not), the rest are its blocks. Also sizes that do not match, which must be refused.
#include "fuzz_support.hpp"

#include <bg2vec/gguf/dequantize.hpp>

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  if (size < 2) return 0;
  const uint32_t id = data[0] % 48;
  const bool exact = data[1] & 1;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 2), size - 2);
  const gguf::TypeInfo* info = gguf::find_type(id);
  size_t count = bytes.size();   // elements claimed: exact for the type, or whatever the bytes are
  if (info && exact) count = bytes.size() / size_t(info->block_bytes) * size_t(info->block_size);
  const auto src = info && exact ? bytes.first(count / size_t(info->block_size) * size_t(info->block_bytes)) : bytes;
  std::vector<float> out(count);
  std::vector<uint16_t> halves(count);
  bool accepted = false;
  fuzz::refusals_allowed([&] {
    gguf::dequantize(gguf::GgmlType(id), src, out);
    gguf::dequantize_bf16(gguf::GgmlType(id), src, halves);
    accepted = true;
  });
  if (accepted) {
    fuzz::check(info && info->supported, "only supported types dequantize");
    fuzz::check(size_t(gguf::storage_bytes(*info, int64_t(count))) == src.size(), "sizes that do not match are refused");
    for (size_t i = 0; i < count; ++i)   // bf16 is float32 rounded: the same value to 8 bits, or both NaN
      fuzz::check(std::isnan(out[i]) ? std::isnan(bf16_to_f32(halves[i])) : f32_to_bf16(out[i]) == halves[i],
                  "bf16 dequantization is float32's rounded");
  }
  return 0;
}
