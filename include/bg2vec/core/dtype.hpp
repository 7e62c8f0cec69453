#pragma once
// Storage types of tensors on disk and their conversion to the float32 we compute in.
#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bg2vec {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

inline constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

inline constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";   case DType::F16: return "F16";   case DType::BF16: return "BF16";
    case DType::F64: return "F64";   case DType::I64: return "I64";   case DType::I32: return "I32";
    case DType::I16: return "I16";   case DType::I8: return "I8";     case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

// The safetensors spelling; false for a type we do not know.
inline bool parse_dtype(std::string_view name, DType& out) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64, DType::I32, DType::I16,
                  DType::I8, DType::U8, DType::Bool})
    if (dtype_name(t) == name) { out = t; return true; }
  return false;
}

inline constexpr bool is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

// bfloat16 is the upper half of a float32.
inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// Round to nearest even, as torch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// IEEE half precision, including subnormals, infinities and NaN.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    exponent = 113;                                  // renormalise a subnormal
    while (!(mantissa & 0x400u)) { mantissa <<= 1; --exponent; }
    mantissa &= 0x3ffu;
    return std::bit_cast<float>(sign | (exponent << 23) | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;                       // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;                      // overflow -> inf
  if (abs < 0x38800000u) {                                            // subnormal half
    const float magic = std::bit_cast<float>(abs) + 0.5f;             // round via the float adder
    return sign | uint16_t(std::bit_cast<uint32_t>(magic) - 0x3f000000u);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return sign | uint16_t((rounded - 0x38000000u) >> 13);
}

// Convert n stored elements to float32.
inline void to_float32(DType t, const void* src, float* dst, size_t n) {
  if (n == 0) return;   // an empty tensor's pointers may be null, which memcpy must not see even for 0 bytes
  const auto* bytes = static_cast<const unsigned char*>(src);
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, bytes + 2 * i, 2); dst[i] = bf16_to_f32(h); }
      return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, bytes + 2 * i, 2); dst[i] = f16_to_f32(h); }
      return;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) { double d; std::memcpy(&d, bytes + 8 * i, 8); dst[i] = float(d); }
      return;
    default: break;
  }
  throw std::invalid_argument("to_float32: not a floating-point dtype");
}

}  // namespace bg2vec
