#pragma once
// exp and sigmoid for the element-wise passes (the gated activations of nn/mlp.hpp), written in plain float
// arithmetic with no library call and no branch, so that a `#pragma omp simd` loop around them vectorises:
// the loops that use them are compiled once for AVX-512 (by function attribute, BG2VEC_TARGET_AVX512) and once
// for the build's own target, and has_avx512f() picks one at run time. The header needs no -march flag.
//
// exp(x) = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2] (Cody and Waite's reduction:
// ln 2 split into a high part with 15 significant bits, so that n * hi is exact for |n| < 2^8, and the rest);
// e^r by its Taylor series to r^7 (truncation r^8/8! < 6e-9 relative on that interval); 2^n built in the
// exponent bits as 2^(n-1) * 2, with x clamped to [-87.3, 89]: so x >= 88.73 (past FLT_MAX) gives +inf, and
// x <= -87 gives 0 (exp < 1.7e-38 there: near-denormal results are flushed), as saturating exp should.
// Measured against std::exp in double over [-86.9, 88.7] in steps of 1e-4: max relative error 9.9e-8 (1.7 ulp).
// sigmoid(y) = 1 / (1 + exp(-y)): relative error <= 2.5e-7 where it exceeds 1e-30, exactly 0 for y < -88.8
// and 1 for y > 16.7 (tests/test_activations.cpp). So x sigmoid(...) and its derivative give 0 or 1, not NaN
// or noise, far out on either side.
#include <algorithm>
#include <bit>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#define BG2VEC_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define BG2VEC_TARGET_AVX512
#endif

namespace bg2vec::backend::cpu {

inline bool has_avx512f() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
#else
  return false;
#endif
}

[[gnu::always_inline]] inline float exp_approx(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0x1.62e4p-1f, kLn2Lo = 1.4286068202862268e-6f;   // hi + lo = ln 2 to 2^-44
  constexpr float kRound = 12582912.0f;                                      // 1.5 * 2^23: adding it rounds to an integer
  x = std::min(std::max(x, -87.3f), 89.0f);
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * std::bit_cast<float>((int32_t(n) + 126) << 23) * 2.0f;
}

[[gnu::always_inline]] inline float sigmoid(float y) { return 1.0f / (1.0f + exp_approx(-y)); }

// s = sigmoid(y) and c = 1 - s, both to a few ulp: c as e s = e / (1 + e) where s is near 1 (1 - s would keep
// only the bits above 2^-24 there, and derivatives multiply c by large factors), as 1 - s elsewhere (e s would
// be inf * 0 once exp overflows).
struct SigmoidPair {
  float s, c;
};
[[gnu::always_inline]] inline SigmoidPair sigmoid_pair(float y) {
  const float e = exp_approx(-y), s = 1.0f / (1.0f + e);
  return {s, s < 0.5f ? 1.0f - s : e * s};
}

}  // namespace bg2vec::backend::cpu
