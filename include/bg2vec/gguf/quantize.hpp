#pragma once
// float32 rows to the stored forms a GGUF export writes: F32 (as is), F16 and BF16 (round to nearest even),
// and Q8_0 (blocks of 32: d = max |x| / 127 stored as float16, q = round(x / d) as signed bytes; ggml's
// reference quantizer, quantize_row_q8_0_ref, computes the same). dequantize.hpp reads all of them back.
//
// The Q8_0 error of one value is at most d / 2 from rounding q, plus |q| <= 127 times the float16 rounding
// of d, with d = max |x| / 127 of its block: relative 2^-11 for a normal float16, so |x - q d16| <= d (1/2 + 127 /
// 2048) < 0.563 d; but at most 2^-25 absolute where d is below float16's normal range (2^-14, i.e. blocks whose
// max |x| < 0.0078), which can be far more than d itself (llama.cpp's Q8_0 is the same).
#include <bg2vec/core/error.hpp>   // first: core/dtype.hpp throws std::invalid_argument without including <stdexcept>
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/gguf/blocks.hpp>
#include <bg2vec/gguf/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace bg2vec::gguf {

// The bound above for a block whose largest |x| is amax (plus float32 rounding of x / d).
inline double q8_0_error_bound(double amax) {
  const double d = amax / 127.0;
  return d * (0.5 + 1e-6) + 127.0 * std::max(d / 2048.0, std::ldexp(1.0, -25));
}

inline void quantize_q8_0(std::span<const float> x, std::byte* out) {
  require(x.size() % BlockQ8_0::elements == 0, "Q8_0 quantizes whole blocks of 32 values");
  for (size_t b = 0; b < x.size() / BlockQ8_0::elements; ++b, out += sizeof(BlockQ8_0)) {
    const float* v = x.data() + b * BlockQ8_0::elements;
    float amax = 0;
    for (int j = 0; j < BlockQ8_0::elements; ++j) amax = std::max(amax, std::abs(v[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 block;
    block.d = f32_to_f16(d);
    for (int j = 0; j < BlockQ8_0::elements; ++j) block.qs[j] = int8_t(std::round(v[j] * id));
    std::memcpy(out, &block, sizeof block);
  }
}

// The types an export can store (the others are read-only here).
inline bool can_quantize(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::Q8_0;
}

// Bytes of `elements` values stored as `type`.
inline size_t stored_bytes(GgmlType type, int64_t elements) {
  const TypeInfo* info = find_type(uint32_t(type));
  require(info && elements % info->block_size == 0, "a tensor's element count must be a multiple of its type's block size");
  return size_t(elements / info->block_size * info->block_bytes);
}

// `x` (a tensor's values, row-major) stored as `type`; a row length that is not a multiple of the block
// size is the caller's to refuse (see model_export.hpp), here it is an error.
inline std::vector<std::byte> quantize(GgmlType type, std::span<const float> x) {
  if (!can_quantize(type)) fail("cannot store tensors as " + std::string(type_name(type)) + " (only F32, F16, BF16, Q8_0)");
  std::vector<std::byte> out(stored_bytes(type, int64_t(x.size())));
  switch (type) {
    case GgmlType::F32: std::memcpy(out.data(), x.data(), x.size() * sizeof(float)); break;
    case GgmlType::F16:
      for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case GgmlType::BF16:
      for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case GgmlType::Q8_0: quantize_q8_0(x, out.data()); break;
    default: break;
  }
  return out;
}

}  // namespace bg2vec::gguf
