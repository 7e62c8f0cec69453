#pragma once
// A bf16 GEMM with float32 accumulation for CPUs with AVX512-BF16 (vdpbf16ps): C (+)= A B, A [M, K] float32
// (converted to bf16 per call), B [K, C] packed once (a weight), C float32.
//
// vdpbf16ps adds, in each of 16 float32 lanes, the products of one pair of bf16 values from each operand.
// So B is packed in panels of kPanel = 48 output columns (3 registers); within a panel, for each pair of
// reduction indices (k, k+1), the 48 columns' two values lie side by side: [c0 k, c0 k+1, c1 k, c1 k+1, ...].
// A row's pair (k, k+1) is one 32-bit word, broadcast to all lanes. The micro-kernel keeps an 8 x 48
// block of C in 24 registers over the whole reduction (the panel streams from L2, the 8 rows from L1);
// rows are taken in chunks that fit L2, and tiles of (chunk, 4 panels) go to the OpenMP threads dynamically.
//
// The kernels are compiled for AVX512-BF16 by function attribute, so the header builds for any x86-64
// target; call them only where has_avx512_bf16() (backend/compute.hpp checks before choosing bf16).
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/core/tensor.hpp>

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

namespace bg2vec::backend::cpu {

inline bool has_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

inline constexpr int kPanel = 48;   // output columns per packed panel (3 x 16 lanes)
inline constexpr int kRows = 8;     // rows of C per micro-kernel call

// 64-byte aligned bf16 storage.
struct AlignedFree { void operator()(void* p) const { std::free(p); } };
using Bf16Buffer = std::unique_ptr<uint16_t[], AlignedFree>;
inline Bf16Buffer allocate_bf16(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * 2 + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return Bf16Buffer(static_cast<uint16_t*>(p));
}

// B [K, C] in bf16 panels, for C (+)= A B.
class PackedB {
 public:
  PackedB() = default;
  // from(k, c) gives B(k, c) as float32.
  template <class From>
  PackedB(int64_t K, int64_t C, From from)
      : K_(K), C_(C), pairs_((K + 1) / 2), panels_((C + kPanel - 1) / kPanel), capacity_(size_t(panels_ * pairs_ * 2 * kPanel)) {
    data_ = allocate_bf16(capacity_);
    uint16_t* base = data_.get();
#pragma omp parallel for schedule(static) if (panels_ > 4)
    for (int64_t p = 0; p < panels_; ++p) {
      uint16_t* panel = base + p * pairs_ * 2 * kPanel;
      // k outer: from(k, .) then reads 48 neighbours of one row of W (for_x_w; the lm_head's W has 262144 rows)
      // or one element of 48 rows each (for_x_wt), both streams the caches follow.
      for (int64_t k = 0; k < 2 * pairs_; ++k)
        for (int j = 0; j < kPanel; ++j) {
          const int64_t c = p * kPanel + j;
          const float v = (c < C && k < K) ? from(k, c) : 0.0f;
          panel[(k / 2) * 2 * kPanel + 2 * j + (k & 1)] = f32_to_bf16(v);
        }
    }
  }
  // y = x W^T with W [out, in] (Hugging Face's layout): B = W^T, K = in, C = out.
  static PackedB for_x_wt(const Eigen::Ref<const Matrix>& w) {
    if (!has_avx512_bf16()) return PackedB(w.cols(), w.rows(), [&](int64_t k, int64_t c) { return w(c, k); });
    PackedB b(w.cols(), w.rows());
    b.pack_transposed(w.data(), w.outerStride());
    return b;
  }
  // dx = dy W: B = W, K = out, C = in.
  static PackedB for_x_w(const Eigen::Ref<const Matrix>& w) {
    if (!has_avx512_bf16()) return PackedB(w.rows(), w.cols(), [&](int64_t k, int64_t c) { return w(k, c); });
    PackedB b(w.rows(), w.cols());
    b.pack_rows(w.data(), w.outerStride());
    return b;
  }

  // for_x_w(w) into this PackedB, reusing its storage when large enough (the weight gradient packs x on every
  // call: a fresh allocation of that size would be page-faulted in each time).
  void assign_for_x_w(const Eigen::Ref<const Matrix>& w) {
    const int64_t pairs = (w.rows() + 1) / 2, panels = (w.cols() + kPanel - 1) / kPanel;
    const size_t n = size_t(panels * pairs * 2 * kPanel);
    if (n > capacity_) {
      data_ = allocate_bf16(n);
      capacity_ = n;
    }
    K_ = w.rows();
    C_ = w.cols();
    pairs_ = pairs;
    panels_ = panels;
    pack_rows(w.data(), w.outerStride());
  }

  int64_t K() const { return K_; }
  int64_t C() const { return C_; }
  int64_t pairs() const { return pairs_; }
  int64_t panels() const { return panels_; }
  const uint16_t* panel(int64_t p) const { return data_.get() + p * pairs_ * 2 * kPanel; }
  size_t bytes() const { return size_t(panels_ * pairs_ * 2 * kPanel) * 2; }
  bool empty() const { return !data_; }

 private:
  // Storage for B [K, C], filled by one of the two packers below. (The generic constructor above is their
  // reference, and what a CPU without AVX512-BF16 uses to count bytes: it never runs the kernel.)
  PackedB(int64_t K, int64_t C)
      : K_(K), C_(C), pairs_((K + 1) / 2), panels_((C + kPanel - 1) / kPanel), capacity_(size_t(panels_ * pairs_ * 2 * kPanel)),
        data_(allocate_bf16(capacity_)) {}

  uint32_t* words(int64_t p) { return reinterpret_cast<uint32_t*>(data_.get() + p * pairs_ * 2 * kPanel); }

  // B = W [K, C] row-major: pair q of a panel is rows 2q and 2q+1 over its 48 columns, interleaved, i.e. word j is
  // (W[2q, c_j], W[2q+1, c_j]): two rows converted 16 columns at a time, one low and one high half per word.
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void pack_rows(const float* w, int64_t ld) {
#pragma omp parallel for schedule(static) if (panels_ > 4)
    for (int64_t p = 0; p < panels_; ++p) {
      uint32_t* panel = words(p);
      for (int64_t q = 0; q < pairs_; ++q)
        for (int j = 0; j < kPanel; j += 16) {
          const int64_t c0 = p * kPanel + j, n = std::clamp<int64_t>(C_ - c0, 0, 16);
          const __mmask16 m = __mmask16((1u << n) - 1);
          const __m512 lo = _mm512_maskz_loadu_ps(m, w + 2 * q * ld + c0);
          const __m512 hi = 2 * q + 1 < K_ ? _mm512_maskz_loadu_ps(m, w + (2 * q + 1) * ld + c0) : _mm512_setzero_ps();
          const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
          const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
          _mm512_store_si512(panel + q * kPanel + j, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
        }
    }
  }

  // B = W^T, W [C, K] row-major: word j of pair q is (W[c_j, 2q], W[c_j, 2q+1]), two neighbours in row c_j. So the
  // panel's 48 rows are converted, a block of pairs at a time, into a [48, pairs] table of words (row c_j's words in
  // order), which is then transposed into the panel 16 words (rows) per gather.
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void pack_transposed(const float* w, int64_t ld) {
    constexpr int64_t kBlock = 256;   // pairs per block: a 48 KiB table, in L1/L2 while it is transposed
#pragma omp parallel for schedule(static) if (panels_ > 4)
    for (int64_t p = 0; p < panels_; ++p) {
      alignas(64) uint32_t table[kPanel * kBlock];
      uint32_t* panel = words(p);
      const __m512i rows = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                              _mm512_set1_epi32(int(kBlock)));
      for (int64_t q0 = 0; q0 < pairs_; q0 += kBlock) {
        const int64_t q1 = std::min(pairs_, q0 + kBlock);
        for (int j = 0; j < kPanel; ++j) {
          const int64_t c = p * kPanel + j;
          uint32_t* out = table + j * kBlock;
          for (int64_t q = q0; q < q1; q += 8) {   // 16 floats -> 8 words
            const int64_t k = 2 * q, n = c < C_ ? std::clamp<int64_t>(K_ - k, 0, 16) : 0;
            const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), w + c * ld + k));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (q - q0)), v);
          }
        }
        for (int64_t q = q0; q < q1; ++q)
          for (int j = 0; j < kPanel; j += 16)
            _mm512_store_si512(panel + q * kPanel + j,
                               _mm512_i32gather_epi32(rows, reinterpret_cast<const int*>(table + j * kBlock + (q - q0)), 4));
      }
    }
  }

  int64_t K_ = 0, C_ = 0, pairs_ = 0, panels_ = 0;
  size_t capacity_ = 0;   // elements of data_
  Bf16Buffer data_;
};

namespace detail {

// Rows of A as bf16 with the reduction padded to an even length: row r's pair q is word r * pairs + q.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void convert_rows(const float* a, int64_t lda, int64_t M,
                                                                                 int64_t K, uint16_t* out) {
  const int64_t Kp = (K + 1) / 2 * 2;
#pragma omp parallel for schedule(static) if (M * K > (int64_t(1) << 23))   // memory-bound: threads pay only for large A
  for (int64_t r = 0; r < M; ++r) {
    const float* src = a + r * lda;
    uint16_t* dst = out + r * Kp;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
    if (k < K) {
      const __mmask16 m = __mmask16((1u << (K - k)) - 1);
      const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + k));
      _mm256_mask_storeu_epi16(dst + k, m, v);
    }
    if (Kp != K) dst[K] = 0;
  }
}

template <int R>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void micro_kernel(const uint32_t* a, int64_t a_pairs,
                                                                                 const uint16_t* panel, int64_t pairs,
                                                                                 float* c, int64_t ldc, int cols,
                                                                                 bool accumulate) {
  __m512 acc[R][3];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
  const __m512i* b = reinterpret_cast<const __m512i*>(panel);
  for (int64_t q = 0; q < pairs; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b + 3 * q);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(b + 3 * q + 1);
    const __m512bh b2 = (__m512bh)_mm512_load_si512(b + 3 * q + 2);
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r * a_pairs + q]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], av, b2);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 3; ++j) {
      const int left = cols - 16 * j;
      if (left <= 0) break;
      const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      float* dst = c + r * ldc + 16 * j;
      __m512 v = acc[r][j];
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dst));
      _mm512_mask_storeu_ps(dst, m, v);
    }
}

using MicroKernel = void (*)(const uint32_t*, int64_t, const uint16_t*, int64_t, float*, int64_t, int, bool);
inline constexpr MicroKernel kMicroKernels[kRows + 1] = {nullptr,         micro_kernel<1>, micro_kernel<2>,
                                                         micro_kernel<3>, micro_kernel<4>, micro_kernel<5>,
                                                         micro_kernel<6>, micro_kernel<7>, micro_kernel<8>};

}  // namespace detail

// C (+)= A B. A: M rows of K floats (row stride lda); C: M rows of b.C() floats (row stride ldc).
namespace detail {

// The bf16 copy of A lives in a per-thread buffer that only grows: a fresh allocation of this size would be
// page-faulted in on every call (measured: up to 8 ms of a 30 ms product at N = 4096, K = 2048).
inline uint16_t* a_scratch(size_t elements) {
  thread_local Bf16Buffer scratch;
  thread_local size_t capacity = 0;
  if (elements > capacity) {
    scratch = allocate_bf16(elements);
    capacity = elements;
  }
  return scratch.get();
}

// Rows of A^T as convert_rows lays out A's: A = a^T for a [K, M] row-major, so row r's pair q is the word
// (a[2q, r], a[2q+1, r]). In blocks of kPairBlock pairs: first a's row pairs are interleaved into a table of words
// P[q][r] (contiguous in r, 16 columns at a time), then each row r of the output gathers its 16 words
// P[q0 .. q0+15][r] at once. (Scattering each word to its row instead cost about 5 cycles a word.)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void convert_columns(const float* a, int64_t lda, int64_t K,
                                                                                    int64_t M, uint16_t* out) {
  constexpr int64_t kPairBlock = 64, kRowBlock = 512;   // the table: 64 x M words; 16 of its rows x 512 words per gather sweep
  const int64_t pairs = (K + 1) / 2;
  uint32_t* out32 = reinterpret_cast<uint32_t*>(out);
  thread_local Bf16Buffer table_storage;
  thread_local size_t table_capacity = 0;
  const size_t need = size_t(kPairBlock * M * 2);
  if (need > table_capacity) {
    table_storage = allocate_bf16(need);
    table_capacity = need;
  }
  uint32_t* table = reinterpret_cast<uint32_t*>(table_storage.get());
  const __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(int(M)));
  const bool threads = M * K > (int64_t(1) << 22);
  for (int64_t b0 = 0; b0 < pairs; b0 += kPairBlock) {
    const int64_t b1 = std::min(pairs, b0 + kPairBlock);
#pragma omp parallel for schedule(static) if (threads)
    for (int64_t q = b0; q < b1; ++q)
      for (int64_t r0 = 0; r0 < M; r0 += 16) {
        const __mmask16 m = __mmask16((1u << std::min<int64_t>(16, M - r0)) - 1);
        const __m512 lo = _mm512_maskz_loadu_ps(m, a + 2 * q * lda + r0);
        const __m512 hi = 2 * q + 1 < K ? _mm512_maskz_loadu_ps(m, a + (2 * q + 1) * lda + r0) : _mm512_setzero_ps();
        const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
        const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
        _mm512_mask_storeu_epi32(table + (q - b0) * M + r0, m, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
      }
#pragma omp parallel for schedule(static) if (threads)
    for (int64_t rb = 0; rb < M; rb += kRowBlock)
      for (int64_t q0 = b0; q0 < b1; q0 += 16) {
        const __mmask16 m = __mmask16((1u << std::min<int64_t>(16, b1 - q0)) - 1);
        const uint32_t* column = table + (q0 - b0) * M;
        for (int64_t r = rb; r < std::min(M, rb + kRowBlock); ++r)
          _mm512_mask_storeu_epi32(out32 + r * pairs + q0, m,
                                   _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, stride, column + r, 4));
      }
  }
}

// C (+)= A B from A already in bf16 pairs (a32: M rows of b.pairs() words).
inline void gemm_converted(const uint32_t* a32, int64_t M, const PackedB& b, float* c, int64_t ldc, bool accumulate);

}  // namespace detail

// C (+)= A B. A: M rows of K floats (row stride lda); C: M rows of b.C() floats (row stride ldc).
inline void gemm_bf16(const float* a, int64_t lda, int64_t M, const PackedB& b, float* c, int64_t ldc, bool accumulate) {
  if (M == 0 || b.C() == 0) return;
  uint16_t* scratch = detail::a_scratch(size_t(M * b.pairs() * 2));
  detail::convert_rows(a, lda, M, b.K(), scratch);
  detail::gemm_converted(reinterpret_cast<const uint32_t*>(scratch), M, b, c, ldc, accumulate);
}

// dW (+)= dy^T x, dy [N, O] and x [N, I] row-major (a weight gradient, reduced over the N rows): A = dy^T converted
// straight from dy's rows, B = x packed on each call (2 bytes per element of x, against 2 N O I flops) into the
// calling thread's storage.
inline void gemm_bf16_at_b(const Eigen::Ref<const Matrix>& dy, const Eigen::Ref<const Matrix>& x, Eigen::Ref<Matrix> dw,
                           bool accumulate) {
  if (dy.rows() != x.rows() || dw.rows() != dy.cols() || dw.cols() != x.cols())
    throw std::invalid_argument("gemm_bf16_at_b: shapes do not match (dy " + std::to_string(dy.rows()) + "x" +
                                std::to_string(dy.cols()) + ", x " + std::to_string(x.rows()) + "x" + std::to_string(x.cols()) +
                                ", dW " + std::to_string(dw.rows()) + "x" + std::to_string(dw.cols()) + ")");
  const int64_t N = dy.rows(), O = dy.cols();
  if (N == 0 || O == 0 || x.cols() == 0) {
    if (!accumulate) dw.setZero();
    return;
  }
  thread_local PackedB b;
  b.assign_for_x_w(x);
  uint16_t* scratch = detail::a_scratch(size_t(O * b.pairs() * 2));
  detail::convert_columns(dy.data(), dy.outerStride(), N, O, scratch);
  detail::gemm_converted(reinterpret_cast<const uint32_t*>(scratch), O, b, dw.data(), dw.outerStride(), accumulate);
}

inline void detail::gemm_converted(const uint32_t* a32, int64_t M, const PackedB& b, float* c, int64_t ldc, bool accumulate) {
  const int64_t pairs = b.pairs();
  // A long reduction (the lm_head's dh = dZ W, K = the vocabulary) is taken in blocks of kBlockPairs pairs, C
  // accumulating between them: a block of a panel (48 KiB) then stays in L2 while every row of the chunk passes
  // over it, and the chunk can be tall; otherwise 8 rows of 262144 floats would go through the whole panel
  // from memory each. Reductions up to kMaxUnblockedPairs (every projection's, K <= 2048) run unblocked.
  constexpr int64_t kMaxUnblockedPairs = 1024, kBlockPairs = 256;
  const int64_t block = pairs > kMaxUnblockedPairs ? kBlockPairs : pairs;
  // Rows per chunk: its bf16 rows (of one block) take about 512 KiB (an L2 share), a multiple of the
  // micro-kernel's rows.
  const int64_t chunk = std::max<int64_t>(kRows, (int64_t(512 * 1024) / std::max<int64_t>(1, block * 4)) / kRows * kRows);
  const int64_t panels = b.panels();
  // Tiles of (row chunk, 4 panels), chunk-major so that the threads share a chunk's rows in cache, handed out
  // dynamically with one barrier at the end: on a machine shared with other work a descheduled thread then
  // delays only its current tile (a static split with a barrier per chunk left the other thread spinning).
  constexpr int64_t kGroup = 4;
  const int64_t groups = (panels + kGroup - 1) / kGroup, chunks = (M + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) if (chunks * groups > 1)
  for (int64_t t = 0; t < chunks * groups; ++t) {
    const int64_t i0 = (t / groups) * chunk, i1 = std::min(M, i0 + chunk);
    const int64_t p0 = (t % groups) * kGroup, p1 = std::min(panels, p0 + kGroup);
    for (int64_t q0 = 0; q0 < pairs; q0 += block) {
      const int64_t q1 = std::min(pairs, q0 + block);
      for (int64_t p = p0; p < p1; ++p) {
        const int cols = int(std::min<int64_t>(kPanel, b.C() - p * kPanel));
        for (int64_t i = i0; i < i1; i += kRows) {
          const int rows = int(std::min<int64_t>(kRows, i1 - i));
          detail::kMicroKernels[rows](a32 + i * pairs + q0, pairs, b.panel(p) + q0 * 2 * kPanel, q1 - q0,
                                      c + i * ldc + p * kPanel, ldc, cols, accumulate || q0 > 0);
        }
      }
    }
  }
}

// y (+)= x B for Eigen row-major operands (x [M, K], y [M, C]; inner stride 1).
inline void gemm_bf16(const Eigen::Ref<const Matrix>& x, const PackedB& b, Eigen::Ref<Matrix> y, bool accumulate) {
  if (x.cols() != b.K() || y.cols() != b.C() || y.rows() != x.rows())
    throw std::invalid_argument("gemm_bf16: shapes do not match (x " + std::to_string(x.rows()) + "x" + std::to_string(x.cols()) +
                                ", B " + std::to_string(b.K()) + "x" + std::to_string(b.C()) + ", y " +
                                std::to_string(y.rows()) + "x" + std::to_string(y.cols()) + ")");
  gemm_bf16(x.data(), x.outerStride(), x.rows(), b, y.data(), y.outerStride(), accumulate);
}

}  // namespace bg2vec::backend::cpu
