#pragma once
// ggml's tensor types under llama.cpp's numeric ids (the ids a GGUF file stores), with their names and
// block geometry: a type stores `block_size` consecutive elements of a row in `block_bytes` bytes. Every
// id ggml has assigned is named here, so that a type we cannot dequantize is refused by its name.
#include <cstdint>
#include <string>
#include <string_view>

namespace bg2vec::gguf {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

// Elements per super-block of the K types.
inline constexpr int64_t QK_K = 256;

struct TypeInfo {
  GgmlType type;
  std::string_view name;
  int64_t block_size;    // elements per block
  int64_t block_bytes;   // bytes per block
  bool supported;        // we dequantize it
};

// Sizes as ggml's type traits give them (sizeof of the block structs of ggml-common.h).
inline constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4, true},           {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::BF16, "BF16", 1, 2, true},         {GgmlType::F64, "F64", 1, 8, true},
    {GgmlType::Q4_0, "Q4_0", 32, 18, true},       {GgmlType::Q4_1, "Q4_1", 32, 20, true},
    {GgmlType::Q5_0, "Q5_0", 32, 22, true},       {GgmlType::Q5_1, "Q5_1", 32, 24, true},
    {GgmlType::Q8_0, "Q8_0", 32, 34, true},       {GgmlType::Q2_K, "Q2_K", QK_K, 84, true},
    {GgmlType::Q3_K, "Q3_K", QK_K, 110, true},    {GgmlType::Q4_K, "Q4_K", QK_K, 144, true},
    {GgmlType::Q5_K, "Q5_K", QK_K, 176, true},    {GgmlType::Q6_K, "Q6_K", QK_K, 210, true},
    {GgmlType::Q8_1, "Q8_1", 32, 36, false},      {GgmlType::Q8_K, "Q8_K", QK_K, 292, false},
    {GgmlType::IQ2_XXS, "IQ2_XXS", QK_K, 66, false}, {GgmlType::IQ2_XS, "IQ2_XS", QK_K, 74, false},
    {GgmlType::IQ3_XXS, "IQ3_XXS", QK_K, 98, false}, {GgmlType::IQ1_S, "IQ1_S", QK_K, 50, false},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18, false},  {GgmlType::IQ3_S, "IQ3_S", QK_K, 110, false},
    {GgmlType::IQ2_S, "IQ2_S", QK_K, 82, false},  {GgmlType::IQ4_XS, "IQ4_XS", QK_K, 136, false},
    {GgmlType::I8, "I8", 1, 1, false},            {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},          {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::IQ1_M, "IQ1_M", QK_K, 56, false},  {GgmlType::TQ1_0, "TQ1_0", QK_K, 54, false},
    {GgmlType::TQ2_0, "TQ2_0", QK_K, 66, false},  {GgmlType::MXFP4, "MXFP4", 32, 17, false},
    {GgmlType::NVFP4, "NVFP4", 64, 36, false},    {GgmlType::Q1_0, "Q1_0", 128, 18, false},
};

// The traits of a type id read from a file; nullptr for an id ggml has not assigned.
inline constexpr const TypeInfo* find_type(uint32_t id) {
  for (const TypeInfo& t : kTypes)
    if (uint32_t(t.type) == id) return &t;
  return nullptr;
}

// Ids that ggml once assigned and has since removed (GGUF files may no longer use them).
inline constexpr std::string_view retired_type_name(uint32_t id) {
  switch (id) {
    case 4: return "Q4_2";            case 5: return "Q4_3";
    case 31: return "Q4_0_4_4";       case 32: return "Q4_0_4_8";       case 33: return "Q4_0_8_8";
    case 36: return "IQ4_NL_4_4";     case 37: return "IQ4_NL_4_8";     case 38: return "IQ4_NL_8_8";
    default: return {};
  }
}

// "?" for a value outside the table (only a cast makes such a GgmlType).
inline constexpr std::string_view type_name(GgmlType t) {
  const TypeInfo* info = find_type(uint32_t(t));
  return info ? info->name : "?";
}

inline constexpr bool is_supported(GgmlType t) {
  const TypeInfo* info = find_type(uint32_t(t));
  return info && info->supported;
}

// "F32, F16, ...": for the messages that refuse a type.
inline std::string supported_type_names() {
  std::string names;
  for (const TypeInfo& t : kTypes)
    if (t.supported) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

}  // namespace bg2vec::gguf
