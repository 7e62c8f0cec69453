#pragma once
// The block layouts of the quantized types we dequantize, as ggml-common.h defines them. A block holds
// `elements` consecutive weights of a row as small integers plus float16 scales (stored as their bits).
// The structs have no padding, so a block is read from a file with one memcpy of sizeof(Block) bytes;
// the static_asserts tie each one to the size the type table (and every GGUF file) uses.
#include <bg2vec/gguf/types.hpp>

#include <cstdint>

namespace bg2vec::gguf {

// 32 weights: (q - 8) * d, q a 4-bit nibble (low nibbles are elements 0..15, high nibbles 16..31).
struct BlockQ4_0 {
  static constexpr GgmlType type = GgmlType::Q4_0;
  static constexpr int elements = 32;
  uint16_t d;
  uint8_t qs[16];
};

// 32 weights: q * d + m.
struct BlockQ4_1 {
  static constexpr GgmlType type = GgmlType::Q4_1;
  static constexpr int elements = 32;
  uint16_t d, m;
  uint8_t qs[16];
};

// 32 weights: (q - 16) * d, q = nibble | bit i of qh (little-endian u32) << 4.
struct BlockQ5_0 {
  static constexpr GgmlType type = GgmlType::Q5_0;
  static constexpr int elements = 32;
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// 32 weights: q * d + m, q as in Q5_0.
struct BlockQ5_1 {
  static constexpr GgmlType type = GgmlType::Q5_1;
  static constexpr int elements = 32;
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// 32 weights: q * d, q a signed byte.
struct BlockQ8_0 {
  static constexpr GgmlType type = GgmlType::Q8_0;
  static constexpr int elements = 32;
  uint16_t d;
  int8_t qs[32];
};

// 256 weights in 16 groups of 16: d * (scale & 15) * q - dmin * (scale >> 4), q 2 bits.
struct BlockQ2_K {
  static constexpr GgmlType type = GgmlType::Q2_K;
  static constexpr int elements = QK_K;
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  uint16_t d, dmin;
};

// 256 weights in 16 groups of 16: d * (scale - 32) * (q - 4 * !hbit), q 2 bits, scales 6 bits packed in 12 bytes.
struct BlockQ3_K {
  static constexpr GgmlType type = GgmlType::Q3_K;
  static constexpr int elements = QK_K;
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// 256 weights in 8 groups of 32: d * scale * q - dmin * min, q 4 bits, scales and mins 6 bits packed in 12 bytes.
struct BlockQ4_K {
  static constexpr GgmlType type = GgmlType::Q4_K;
  static constexpr int elements = QK_K;
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[QK_K / 2];
};

// As Q4_K with a fifth bit per weight in qh.
struct BlockQ5_K {
  static constexpr GgmlType type = GgmlType::Q5_K;
  static constexpr int elements = QK_K;
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// 256 weights in 16 groups of 16: d * scale * (q - 32), q 6 bits (4 in ql, 2 in qh), scale a signed byte.
struct BlockQ6_K {
  static constexpr GgmlType type = GgmlType::Q6_K;
  static constexpr int elements = QK_K;
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};

// (A loop rather than find_type: GCC cannot compare its pointer with null in a constant under -fsanitize=null.)
template <class Block>
constexpr bool matches_type_table() {
  for (const TypeInfo& t : kTypes)
    if (t.type == Block::type) return t.block_size == Block::elements && t.block_bytes == int64_t(sizeof(Block));
  return false;
}

static_assert(sizeof(BlockQ4_0) == 2 + 16 && matches_type_table<BlockQ4_0>(), "wrong Q4_0 block size/padding");
static_assert(sizeof(BlockQ4_1) == 4 + 16 && matches_type_table<BlockQ4_1>(), "wrong Q4_1 block size/padding");
static_assert(sizeof(BlockQ5_0) == 2 + 4 + 16 && matches_type_table<BlockQ5_0>(), "wrong Q5_0 block size/padding");
static_assert(sizeof(BlockQ5_1) == 4 + 4 + 16 && matches_type_table<BlockQ5_1>(), "wrong Q5_1 block size/padding");
static_assert(sizeof(BlockQ8_0) == 2 + 32 && matches_type_table<BlockQ8_0>(), "wrong Q8_0 block size/padding");
static_assert(sizeof(BlockQ2_K) == 4 + QK_K / 16 + QK_K / 4 && matches_type_table<BlockQ2_K>(), "wrong Q2_K block size/padding");
static_assert(sizeof(BlockQ3_K) == 2 + QK_K / 8 + QK_K / 4 + 12 && matches_type_table<BlockQ3_K>(), "wrong Q3_K block size/padding");
static_assert(sizeof(BlockQ4_K) == 4 + 12 + QK_K / 2 && matches_type_table<BlockQ4_K>(), "wrong Q4_K block size/padding");
static_assert(sizeof(BlockQ5_K) == 4 + 12 + QK_K / 8 + QK_K / 2 && matches_type_table<BlockQ5_K>(), "wrong Q5_K block size/padding");
static_assert(sizeof(BlockQ6_K) == 2 + QK_K / 2 + QK_K / 4 + QK_K / 16 && matches_type_table<BlockQ6_K>(), "wrong Q6_K block size/padding");

}  // namespace bg2vec::gguf
