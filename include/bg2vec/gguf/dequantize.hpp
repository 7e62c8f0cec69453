#pragma once
// Dequantization to float32 (and, through float32, to bf16) of every supported type: one function per
// block type, with the formulas of ggml-common.h and the `gguf` Python package. Each value is d * s * q,
// for some types plus an offset m or -dmin * m (d, dmin, m float16; s, q small integers). A float16 has
// 11 significant bits and the integers of one product at most 12 together (Q6_K: a 7-bit scale times a
// 5-bit quant), so every product is exact in float32 and a value is its exact formula rounded once (or
// not at all): the same bits whatever the order of the multiplications or whether the compiler fuses the
// subtraction into an FMA, and so the same bits as llama.cpp and the gguf package give.
// Blocks are copied out of the file with memcpy: GGUF only aligns tensors to `general.alignment`, so a
// block's float16 fields may sit at any address.
#include <bg2vec/core/error.hpp>   // first: core/dtype.hpp throws std::invalid_argument without including <stdexcept>
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/gguf/blocks.hpp>
#include <bg2vec/gguf/types.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace bg2vec::gguf {

namespace detail {

template <class Block>
Block load_block(const std::byte* p) {
  Block b;
  std::memcpy(&b, p, sizeof b);
  return b;
}

// The 6-bit scale and minimum of group j (0..7) of a Q4_K/Q5_K block: groups 0-3 keep theirs in the low 6
// bits of bytes j and j + 4; groups 4-7 in the nibbles of byte j + 4, topped up by the 2 spare high bits
// of bytes j - 4 and j.
inline void scale_min_k4(int j, const uint8_t* s, float& scale, float& min) {
  if (j < 4) {
    scale = float(s[j] & 63);
    min = float(s[j + 4] & 63);
  } else {
    scale = float((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
    min = float((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace detail

// Each function dequantizes `blocks` consecutive blocks from `src` into y (blocks x elements floats).

inline void dequantize_q4_0(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ4_0), y += BlockQ4_0::elements) {
    const auto b = detail::load_block<BlockQ4_0>(src);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(int(b.qs[j] & 15) - 8);
      y[j + 16] = d * float(int(b.qs[j] >> 4) - 8);
    }
  }
}

inline void dequantize_q4_1(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ4_1), y += BlockQ4_1::elements) {
    const auto b = detail::load_block<BlockQ4_1>(src);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(b.qs[j] & 15) + m;
      y[j + 16] = d * float(b.qs[j] >> 4) + m;
    }
  }
}

inline void dequantize_q5_0(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ5_0), y += BlockQ5_0::elements) {
    const auto b = detail::load_block<BlockQ5_0>(src);
    const float d = f16_to_f32(b.d);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int lo = (b.qs[j] & 15) | int(((qh >> j) & 1) << 4);
      const int hi = (b.qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
      y[j] = d * float(lo - 16);
      y[j + 16] = d * float(hi - 16);
    }
  }
}

inline void dequantize_q5_1(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ5_1), y += BlockQ5_1::elements) {
    const auto b = detail::load_block<BlockQ5_1>(src);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int lo = (b.qs[j] & 15) | int(((qh >> j) & 1) << 4);
      const int hi = (b.qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
      y[j] = d * float(lo) + m;
      y[j + 16] = d * float(hi) + m;
    }
  }
}

inline void dequantize_q8_0(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ8_0), y += BlockQ8_0::elements) {
    const auto b = detail::load_block<BlockQ8_0>(src);
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 32; ++j) y[j] = d * float(b.qs[j]);
  }
}

// Element e = 128 h + 32 s + l (half h, shift s, lane l) is bits 2s..2s+1 of qs[32 h + l], in group e / 16.
inline void dequantize_q2_k(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ2_K), y += BlockQ2_K::elements) {
    const auto b = detail::load_block<BlockQ2_K>(src);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int g = 0; g < 2; ++g) {                       // the two groups of 16 in these 32 lanes
          const uint8_t sc = b.scales[8 * h + 2 * s + g];
          const float dl = d * float(sc & 15), ml = dmin * float(sc >> 4);
          float* out = y + 128 * h + 32 * s + 16 * g;
          const uint8_t* q = b.qs + 32 * h + 16 * g;
          for (int l = 0; l < 16; ++l) out[l] = dl * float((q[l] >> (2 * s)) & 3) - ml;
        }
  }
}

// Element e = 128 h + 32 s + l: bits 2s..2s+1 of qs[32 h + l], minus 4 unless bit e / 32 of hmask[l] is set.
// The 16 scales are 6 bits: the low 4 in the nibbles of bytes 0-7, the high 2 in bytes 8-11.
inline void dequantize_q3_k(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ3_K), y += BlockQ3_K::elements) {
    const auto b = detail::load_block<BlockQ3_K>(src);
    const float d = f16_to_f32(b.d);
    float dl[16];
    for (int k = 0; k < 16; ++k) {
      const int low = (b.scales[k % 8] >> (4 * (k / 8))) & 15;
      const int high = (b.scales[8 + k % 4] >> (2 * (k / 4))) & 3;
      dl[k] = d * float((low | (high << 4)) - 32);
    }
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int g = 0; g < 2; ++g) {                       // the two groups of 16 in these 32 lanes
          const int bit = 4 * h + s;                        // = e / 32
          const float scale = dl[2 * bit + g];
          const uint8_t* q = b.qs + 32 * h + 16 * g;
          const uint8_t* hmask = b.hmask + 16 * g;
          float* out = y + 32 * bit + 16 * g;
          for (int l = 0; l < 16; ++l)
            out[l] = scale * float(((q[l] >> (2 * s)) & 3) - (((hmask[l] >> bit) & 1) ? 0 : 4));
        }
  }
}

// Element e = 64 c + 32 s + l is nibble s of qs[32 c + l], in group e / 32 = 2 c + s.
inline void dequantize_q4_k(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ4_K), y += BlockQ4_K::elements) {
    const auto b = detail::load_block<BlockQ4_K>(src);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      float sc0, m0, sc1, m1;
      detail::scale_min_k4(2 * c, b.scales, sc0, m0);
      detail::scale_min_k4(2 * c + 1, b.scales, sc1, m1);
      const float d0 = d * sc0, d1 = d * sc1, dm0 = dmin * m0, dm1 = dmin * m1;
      const uint8_t* q = b.qs + 32 * c;
      float* out = y + 64 * c;
      for (int l = 0; l < 32; ++l) {
        out[l] = d0 * float(q[l] & 15) - dm0;
        out[l + 32] = d1 * float(q[l] >> 4) - dm1;
      }
    }
  }
}

// As Q4_K, with bit e / 32 of qh[l] (l = e % 32) as the fifth bit.
inline void dequantize_q5_k(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ5_K), y += BlockQ5_K::elements) {
    const auto b = detail::load_block<BlockQ5_K>(src);
    const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      float sc0, m0, sc1, m1;
      detail::scale_min_k4(2 * c, b.scales, sc0, m0);
      detail::scale_min_k4(2 * c + 1, b.scales, sc1, m1);
      const float d0 = d * sc0, d1 = d * sc1, dm0 = dmin * m0, dm1 = dmin * m1;
      const uint8_t* q = b.qs + 32 * c;
      float* out = y + 64 * c;
      for (int l = 0; l < 32; ++l) {
        const int lo = (q[l] & 15) | (((b.qh[l] >> (2 * c)) & 1) << 4);
        const int hi = (q[l] >> 4) | (((b.qh[l] >> (2 * c + 1)) & 1) << 4);
        out[l] = d0 * float(lo) - dm0;
        out[l + 32] = d1 * float(hi) - dm1;
      }
    }
  }
}

// Element e = 128 h + 32 s + l: nibble s / 2 of ql[64 h + 32 (s % 2) + l] with bits 2s..2s+1 of
// qh[32 h + l] on top, minus 32, in group e / 16.
inline void dequantize_q6_k(const std::byte* src, float* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, src += sizeof(BlockQ6_K), y += BlockQ6_K::elements) {
    const auto b = detail::load_block<BlockQ6_K>(src);
    const float d = f16_to_f32(b.d);
    float dl[16];
    for (int k = 0; k < 16; ++k) dl[k] = d * float(b.scales[k]);
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int g = 0; g < 2; ++g) {
          const float scale = dl[8 * h + 2 * s + g];
          const uint8_t* ql = b.ql + 64 * h + 32 * (s % 2) + 16 * g;
          const uint8_t* qh = b.qh + 32 * h + 16 * g;
          float* out = y + 128 * h + 32 * s + 16 * g;
          for (int l = 0; l < 16; ++l)
            out[l] = scale * float((((ql[l] >> (4 * (s / 2))) & 15) | (((qh[l] >> (2 * s)) & 3) << 4)) - 32);
        }
  }
}

// Bytes that `count` elements of a type take (count a multiple of its block size).
inline constexpr int64_t storage_bytes(const TypeInfo& t, int64_t count) { return count / t.block_size * t.block_bytes; }

namespace detail {

// `count` elements (a multiple of the block size) of a supported type.
inline void dequantize_elements(GgmlType type, const std::byte* src, float* y, int64_t count) {
  switch (type) {
    case GgmlType::F32: std::memcpy(y, src, size_t(count) * 4); return;
    case GgmlType::F16: to_float32(DType::F16, src, y, size_t(count)); return;
    case GgmlType::BF16: to_float32(DType::BF16, src, y, size_t(count)); return;
    case GgmlType::F64: to_float32(DType::F64, src, y, size_t(count)); return;
    case GgmlType::Q4_0: dequantize_q4_0(src, y, count / 32); return;
    case GgmlType::Q4_1: dequantize_q4_1(src, y, count / 32); return;
    case GgmlType::Q5_0: dequantize_q5_0(src, y, count / 32); return;
    case GgmlType::Q5_1: dequantize_q5_1(src, y, count / 32); return;
    case GgmlType::Q8_0: dequantize_q8_0(src, y, count / 32); return;
    case GgmlType::Q2_K: dequantize_q2_k(src, y, count / QK_K); return;
    case GgmlType::Q3_K: dequantize_q3_k(src, y, count / QK_K); return;
    case GgmlType::Q4_K: dequantize_q4_k(src, y, count / QK_K); return;
    case GgmlType::Q5_K: dequantize_q5_k(src, y, count / QK_K); return;
    case GgmlType::Q6_K: dequantize_q6_k(src, y, count / QK_K); return;
    default: break;
  }
  throw Error("gguf dequantize: type " + std::string(type_name(type)) + " is not supported (supported: " +
              supported_type_names() + ")");
}

// Work is cut into chunks of this many elements (a multiple of every supported block size): one chunk per
// task across threads, and a float32 buffer that stays in L1 on the way to bf16.
inline constexpr int64_t kChunk = 4096;

inline const TypeInfo& check_sizes(GgmlType type, size_t src_bytes, size_t count) {
  const TypeInfo* t = find_type(uint32_t(type));
  if (!t || !t->supported)
    throw Error("gguf dequantize: type " + std::string(type_name(type)) + " is not supported (supported: " +
                supported_type_names() + ")");
  if (count % size_t(t->block_size) != 0 || size_t(storage_bytes(*t, int64_t(count))) != src_bytes)
    throw Error("gguf dequantize: " + std::to_string(src_bytes) + " bytes of " + std::string(t->name) +
                " do not hold " + std::to_string(count) + " elements");
  return *t;
}

}  // namespace detail

// `src` holds dst.size() elements of `type` as stored in a GGUF file; throws bg2vec::Error for an unsupported
// type or sizes that do not match.
inline void dequantize(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  const TypeInfo& t = detail::check_sizes(type, src.size(), dst.size());
  const int64_t count = int64_t(dst.size()), chunks = (count + detail::kChunk - 1) / detail::kChunk;
#pragma omp parallel for schedule(static) if (chunks > 16)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * detail::kChunk, n = std::min(detail::kChunk, count - begin);
    detail::dequantize_elements(type, src.data() + storage_bytes(t, begin), dst.data() + begin, n);
  }
}

// The same values rounded to bf16 (round to nearest even), without a float32 copy of the whole tensor.
inline void dequantize_bf16(GgmlType type, std::span<const std::byte> src, std::span<uint16_t> dst) {
  const TypeInfo& t = detail::check_sizes(type, src.size(), dst.size());
  const int64_t count = int64_t(dst.size()), chunks = (count + detail::kChunk - 1) / detail::kChunk;
#pragma omp parallel for schedule(static) if (chunks > 16)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * detail::kChunk, n = std::min(detail::kChunk, count - begin);
    float buffer[detail::kChunk];
    detail::dequantize_elements(type, src.data() + storage_bytes(t, begin), buffer, n);
    for (int64_t i = 0; i < n; ++i) dst[size_t(begin + i)] = f32_to_bf16(buffer[i]);
  }
}

}  // namespace bg2vec::gguf
