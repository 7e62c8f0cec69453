#pragma once
// Small bf16 products with float32 accumulation for the tiles of attention (AVX512-BF16, vdpbf16ps):
//   C[M, N] (+)= scale * A B
// with both operands already in "pair words": a 32-bit word holds two bf16 values that are neighbours along
// the product's reduction, the first in the low half. A is M rows of `pairs` words (A[m][q] = (a[m, 2q],
// a[m, 2q+1])); B is `pairs` rows of N words (B[q][n] = (b[2q, n], b[2q+1, n])). The micro-kernel keeps a
// 6 x 64 block of C in 24 registers over the reduction: each step loads one row of B (4 vectors, the last one
// masked, so N needs no padding) and broadcasts one word of each of the 6 rows of A. Tiles are 64 x 64 by
// 32-128 pairs: everything stays in L1/L2, and a call costs no packing beyond the conversions below.
//
// Conversions from float32 (round to nearest even; an odd length gets a zero high half in its last word):
//   pair_rows(x):    out[r][q] = (x[r, 2q], x[r, 2q+1])   (an A operand reducing along x's rows, or B = x^T after
//                                                           transpose_words)
//   pair_columns(x): out[q][c] = (x[2q, c], x[2q+1, c])   (a B operand reducing down x's columns, or A = x^T after
//                                                           transpose_words)
// Compiled for AVX512-BF16 by function attribute, as bf16_gemm.hpp; call only where has_avx512_bf16().
#include <bg2vec/backend/cpu/bf16_gemm.hpp>

#include <immintrin.h>

#include <array>
#include <cstdint>

namespace bg2vec::backend::cpu {

#define BG2VEC_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace detail {

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// The loops over R and V are unrolled by pragma: only then does GCC keep acc in registers (left as loops, it
// stores every accumulator to the stack after each vdpbf16ps, at a third of the speed).
template <int R, int V>
BG2VEC_TARGET_BF16 void tile_kernel(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t pairs,
                                    __mmask16 last, float scale, float* c, int64_t ldc, bool accumulate) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t q = 0; q < pairs; ++q) {
    __m512bh bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      bv[v] = (__m512bh)(v + 1 < V ? _mm512_loadu_si512(b + q * ldb + 16 * v) : _mm512_maskz_loadu_epi32(last, b + q * ldb + 16 * v));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r * lda + q]));
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v + 1 < V ? __mmask16(0xffff) : last;
      float* dst = c + r * ldc + 16 * v;
      __m512 x = _mm512_mul_ps(acc[r][v], s);
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, dst));
      _mm512_mask_storeu_ps(dst, m, x);
    }
}

using TileKernel = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, __mmask16, float, float*, int64_t, bool);
inline constexpr int kTileRows = 6, kTileVectors = 4;   // 24 accumulators + 4 rows of B + 1 broadcast of 32 registers

template <int R>
inline constexpr std::array<TileKernel, kTileVectors> kTileKernelRow = {tile_kernel<R, 1>, tile_kernel<R, 2>, tile_kernel<R, 3>,
                                                                       tile_kernel<R, 4>};
inline constexpr std::array<std::array<TileKernel, kTileVectors>, kTileRows> kTileKernels = {
    kTileKernelRow<1>, kTileKernelRow<2>, kTileKernelRow<3>, kTileKernelRow<4>, kTileKernelRow<5>, kTileKernelRow<6>};

}  // namespace detail

// C[M, N] (+)= scale * A B (layouts above); lda, ldb in words, ldc in floats.
inline void tile_gemm(const uint32_t* a, int64_t lda, const uint32_t* b, int64_t ldb, int64_t M, int64_t N, int64_t pairs,
                      float scale, float* c, int64_t ldc, bool accumulate) {
  constexpr int64_t kColumns = 16 * detail::kTileVectors;
  for (int64_t n0 = 0; n0 < N; n0 += kColumns) {
    const int64_t n = std::min(kColumns, N - n0);
    const int vectors = int((n + 15) / 16);
    const __mmask16 last = detail::first_lanes(n - 16 * (vectors - 1));
    for (int64_t m0 = 0; m0 < M; m0 += detail::kTileRows) {
      const int rows = int(std::min<int64_t>(detail::kTileRows, M - m0));
      detail::kTileKernels[size_t(rows - 1)][size_t(vectors - 1)](a + m0 * lda, lda, b + n0, ldb, pairs, last, scale,
                                                                  c + m0 * ldc + n0, ldc, accumulate);
    }
  }
}

// out[r][q] = (x[r, 2q], x[r, 2q+1]) for r < rows, q < (cols + 1) / 2; ldx in floats, ldo in words.
BG2VEC_TARGET_BF16 inline void pair_rows(const float* x, int64_t ldx, int64_t rows, int64_t cols, uint32_t* out, int64_t ldo) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * ldx;
    uint16_t* dst = reinterpret_cast<uint16_t*>(out + r * ldo);
    for (int64_t k = 0; k < cols; k += 16) {
      const int64_t n = std::min<int64_t>(16, cols - k);
      const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(detail::first_lanes(n), src + k));
      _mm256_mask_storeu_epi16(dst + k, detail::first_lanes((n + 1) / 2 * 2), v);   // an odd tail's zero half too
    }
  }
}

// out[q][c] = (x[2q, c], x[2q+1, c]) for q < (rows + 1) / 2, c < cols; ldx in floats, ldo in words.
BG2VEC_TARGET_BF16 inline void pair_columns(const float* x, int64_t ldx, int64_t rows, int64_t cols, uint32_t* out, int64_t ldo) {
  for (int64_t q = 0; 2 * q < rows; ++q) {
    const float* lo_row = x + 2 * q * ldx;
    const float* hi_row = 2 * q + 1 < rows ? lo_row + ldx : nullptr;
    for (int64_t c = 0; c < cols; c += 16) {
      const __mmask16 m = detail::first_lanes(cols - c);
      const __m512 lo = _mm512_maskz_loadu_ps(m, lo_row + c);
      const __m512 hi = hi_row ? _mm512_maskz_loadu_ps(m, hi_row + c) : _mm512_setzero_ps();
      const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
      const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
      _mm512_mask_storeu_epi32(out + q * ldo + c, m, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
    }
  }
}

// out[c][r] = in[r][c] for r < rows, c < cols (turns pair_rows into a B operand, pair_columns into an A one).
inline void transpose_words(const uint32_t* in, int64_t ldi, int64_t rows, int64_t cols, uint32_t* out, int64_t ldo) {
  constexpr int64_t kBlock = 16;   // blocks of 16 x 16 words: both sides' lines are used whole
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
      for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c)
        for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r) out[c * ldo + r] = in[r * ldi + c];
}

}  // namespace bg2vec::backend::cpu
