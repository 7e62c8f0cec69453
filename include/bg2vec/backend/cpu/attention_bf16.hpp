#pragma once
// The tile products of the tiled attention (nn/attention.hpp) in bf16 with float32 accumulation
// (bf16_tiles.hpp), as PyTorch's bf16 autocast computes scaled-dot-product attention: the scores, the
// probabilities times the values, and in the backward pass their four gradient products. The softmax, its
// running max and sum, the masks, dropout and dS = P * (dP - D) stay float32 in the attention's own loops.
//
// Each operand is converted once into the pair-word layout its products read, never per tile, except what
// the tiles compute (P, dS), which the products convert as they take them:
//   whole call   q, d_out: pair_rows (A of S = Q K^T and dP = dO V^T; every head's words in one row)
//                k, v: per (batch row, kv head) transposed into [head_dim / 2][T] (B of Q K^T and dO V^T), and
//                k, v: pair_columns from the row's first real key (B of dQ = dS K and O = P V), so that key tiles,
//                which start there every Tiles::keys, start on a pair
//   per head     Q, dO rows [q_lo, q_hi) of the unit's current head: pair_columns transposed into [head_dim][rows / 2]
//                (A of dK^T = Q^T dS and dV^T = dO^T P Z)
// dK and dV are accumulated transposed ([head_dim][T] per unit), so that every tile product is C (+)= A B on
// layouts converted without a transpose per tile, and are transposed into dk, dv once per unit.
// Buffers grow and are kept per thread: a layer's call reuses the previous layer's memory.
#include <bg2vec/backend/cpu/bf16_tiles.hpp>
#include <bg2vec/core/tensor.hpp>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace bg2vec::backend::cpu {

struct AttentionLayout {
  int batch = 0, seq_len = 0, heads = 0, kv_heads = 0, head_dim = 0;   // head_dim even (the pairs of a head)
};

namespace detail {

// A thread's buffer of n elements (grows, never shrinks; contents undefined).
template <class T>
T* grow(std::vector<T>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// The words of one call's whole operands, in the calling thread's keeping (memory::attention_operand_bytes
// mirrors their sizes for `bg2vec inspect`).
struct AttentionOperands {
  std::vector<uint32_t> q, d_out, k_t, v_t, k_pairs, v_pairs;
  size_t bytes() const {
    return (q.size() + d_out.size() + k_t.size() + v_t.size() + k_pairs.size() + v_pairs.size()) * sizeof(uint32_t);
  }
};
inline AttentionOperands& call_operands() {
  thread_local AttentionOperands operands;
  return operands;
}

// For each (b, kv head g): the rows of x (k or v) of batch row b, head g, as [d / 2][T] words (B = x^T).
BG2VEC_TARGET_BF16 inline void convert_transposed(const Eigen::Ref<const Matrix>& x, const AttentionLayout& a, uint32_t* out) {
  const int T = a.seq_len, d = a.head_dim;
#pragma omp parallel for schedule(static)
  for (int bg = 0; bg < a.batch * a.kv_heads; ++bg) {
    thread_local std::vector<uint32_t> rows;
    uint32_t* r = grow(rows, size_t(T) * size_t(d / 2));
    const float* src = x.data() + Eigen::Index(bg / a.kv_heads) * T * x.outerStride() + (bg % a.kv_heads) * d;
    pair_rows(src, x.outerStride(), T, d, r, d / 2);
    transpose_words(r, d / 2, T, d / 2, out + size_t(bg) * size_t(d / 2) * size_t(T), T);
  }
}

// For each (b, g): pairs of keys from key_first[b], [(T + 1) / 2][d] words (B = x for dS K and P V).
BG2VEC_TARGET_BF16 inline void convert_key_pairs(const Eigen::Ref<const Matrix>& x, const AttentionLayout& a,
                                                 std::span<const int> key_first, uint32_t* out) {
  const int T = a.seq_len, d = a.head_dim;
  const size_t block = size_t((T + 1) / 2) * size_t(d);
#pragma omp parallel for schedule(static)
  for (int bg = 0; bg < a.batch * a.kv_heads; ++bg) {
    const int b = bg / a.kv_heads, first = key_first[size_t(b)];
    const float* src = x.data() + (Eigen::Index(b) * T + first) * x.outerStride() + (bg % a.kv_heads) * d;
    pair_columns(src, x.outerStride(), T - first, d, out + size_t(bg) * block, d);
  }
}

BG2VEC_TARGET_BF16 inline void convert_rows_parallel(const Eigen::Ref<const Matrix>& x, uint32_t* out) {
  const int64_t words = (x.cols() + 1) / 2;
#pragma omp parallel for schedule(static)
  for (Eigen::Index r = 0; r < x.rows(); r += 64)
    pair_rows(x.data() + r * x.outerStride(), x.outerStride(), std::min<Eigen::Index>(64, x.rows() - r), x.cols(),
              out + r * words, words);
}

}  // namespace detail

// The forward pass's products: S = s Q K^T and O += P V, positions relative to batch row b.
class Bf16AttentionForward {
 public:
  Bf16AttentionForward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
                       const AttentionLayout& layout, std::span<const int> key_first)
      : a_(layout), key_first_(key_first), ldq_(q.cols() / 2) {
    auto& o = detail::call_operands();
    const size_t bg = size_t(a_.batch) * size_t(a_.kv_heads), T = size_t(a_.seq_len), d = size_t(a_.head_dim);
    q_ = detail::grow(o.q, size_t(q.rows()) * size_t(ldq_));
    k_t_ = detail::grow(o.k_t, bg * (d / 2) * T);
    v_pairs_ = detail::grow(o.v_pairs, bg * ((T + 1) / 2) * d);
    detail::convert_rows_parallel(q, q_);
    detail::convert_transposed(k, a_, k_t_);
    detail::convert_key_pairs(v, a_, key_first_, v_pairs_);
  }

  // S [rows, cols] = scale Q K^T: queries q0.. of head h, keys k0.. of its kv head.
  void scores(int b, int h, int q0, int k0, float scale, Eigen::Ref<Matrix> S) const {
    const int d = a_.head_dim;
    tile_gemm(q_ + (int64_t(b) * a_.seq_len + q0) * ldq_ + h * (d / 2), ldq_, k_t_ + transposed(b, h) + k0, a_.seq_len,
              S.rows(), S.cols(), d / 2, scale, S.data(), S.outerStride(), false);
  }

  // O [rows, d] += P V: P [rows, cols] over keys k0.. of head h's kv head.
  void add_values(const Eigen::Ref<const Matrix>& P, int b, int h, int k0, Eigen::Ref<Matrix> O) const {
    thread_local std::vector<uint32_t> p_words;
    const int64_t pairs = (P.cols() + 1) / 2;
    uint32_t* p = detail::grow(p_words, size_t(P.rows()) * size_t(pairs));
    pair_rows(P.data(), P.outerStride(), P.rows(), P.cols(), p, pairs);
    tile_gemm(p, pairs, v_pairs_ + key_pairs(b, h, k0), a_.head_dim, P.rows(), a_.head_dim, pairs, 1.0f, O.data(),
              O.outerStride(), true);
  }

 private:
  int kv_head(int h) const { return h / (a_.heads / a_.kv_heads); }
  size_t unit(int b, int h) const { return size_t(b) * size_t(a_.kv_heads) + size_t(kv_head(h)); }
  size_t transposed(int b, int h) const { return unit(b, h) * size_t(a_.head_dim / 2) * size_t(a_.seq_len); }
  size_t key_pairs(int b, int h, int k0) const {
    return (unit(b, h) * size_t((a_.seq_len + 1) / 2) + size_t((k0 - key_first_[size_t(b)]) / 2)) * size_t(a_.head_dim);
  }

  AttentionLayout a_;
  std::span<const int> key_first_;
  int64_t ldq_;
  uint32_t *q_ = nullptr, *k_t_ = nullptr, *v_pairs_ = nullptr;
};

// The backward pass's products, per unit (batch row b, kv head g) as the attention's loop runs: the scores
// again, dP = dO V^T, dV += (P Z)^T dO, dQ += dS K, dK += dS^T Q.
class Bf16AttentionBackward {
 public:
  Bf16AttentionBackward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
                        const Eigen::Ref<const Matrix>& d_out, const AttentionLayout& layout, std::span<const int> key_first)
      : a_(layout), key_first_(key_first), ldq_(q.cols() / 2), q_rows_(q), d_out_rows_(d_out) {
    auto& o = detail::call_operands();
    const size_t bg = size_t(a_.batch) * size_t(a_.kv_heads), T = size_t(a_.seq_len), d = size_t(a_.head_dim);
    q_ = detail::grow(o.q, size_t(q.rows()) * size_t(ldq_));
    d_out_ = detail::grow(o.d_out, size_t(d_out.rows()) * size_t(ldq_));
    k_t_ = detail::grow(o.k_t, bg * (d / 2) * T);
    v_t_ = detail::grow(o.v_t, bg * (d / 2) * T);
    k_pairs_ = detail::grow(o.k_pairs, bg * ((T + 1) / 2) * d);
    detail::convert_rows_parallel(q, q_);
    detail::convert_rows_parallel(d_out, d_out_);
    detail::convert_transposed(k, a_, k_t_);
    detail::convert_transposed(v, a_, v_t_);
    detail::convert_key_pairs(k, a_, key_first_, k_pairs_);
  }

  class Unit {
   public:
    // Starts head h (of this unit's kv head) with the query rows [q_lo, q_hi) that have a gradient.
    void head(int h, int q_lo, int q_hi) {
      const int d = p_.a_.head_dim, T = p_.a_.seq_len;
      h_ = h;
      q_lo_ = q_lo;
      row_pairs_ = (q_hi - q_lo + 1) / 2;
      uint32_t* pairs = detail::grow(s_.pairs, size_t(row_pairs_) * size_t(d));
      const Eigen::Index row0 = Eigen::Index(b_) * T + q_lo;
      for (auto [x, out] : {std::pair{&p_.q_rows_, &s_.q_cols}, std::pair{&p_.d_out_rows_, &s_.d_out_cols}}) {
        pair_columns(x->data() + row0 * x->outerStride() + h * d, x->outerStride(), q_hi - q_lo, d, pairs, d);
        transpose_words(pairs, d, row_pairs_, d, detail::grow(*out, size_t(d) * size_t(row_pairs_)), row_pairs_);
      }
    }
    // S [rows, cols] = scale Q K^T for queries c0.., keys k0.. of the current head.
    void scores(int c0, int k0, float scale, Eigen::Ref<Matrix> S) const { rows_by_keys(p_.q_, p_.k_t_, c0, k0, scale, S); }
    // dP [rows, cols] = dO V^T.
    void grad_probs(int c0, int k0, Eigen::Ref<Matrix> dP) const { rows_by_keys(p_.d_out_, p_.v_t_, c0, k0, 1.0f, dP); }
    // dV += (P Z)^T dO for the tile's queries c0.. and keys k0.. (PZ [rows, cols]).
    void add_value_grad(const Eigen::Ref<const Matrix>& PZ, int c0, int k0) { add_columns(s_.d_out_cols, PZ, c0, k0, s_.dv_t); }
    // dK += dS^T Q.
    void add_key_grad(const Eigen::Ref<const Matrix>& dS, int c0, int k0) { add_columns(s_.q_cols, dS, c0, k0, s_.dk_t); }
    // dQ [rows, d] += dS K for keys k0...
    void add_query_grad(const Eigen::Ref<const Matrix>& dS, int k0, Eigen::Ref<Matrix> dQ) {
      const int64_t pairs = (dS.cols() + 1) / 2;
      uint32_t* w = detail::grow(s_.tile, size_t(dS.rows()) * size_t(pairs));
      pair_rows(dS.data(), dS.outerStride(), dS.rows(), dS.cols(), w, pairs);
      const size_t block = (unit() * size_t((p_.a_.seq_len + 1) / 2) + size_t((k0 - p_.key_first_[size_t(b_)]) / 2)) *
                           size_t(p_.a_.head_dim);
      tile_gemm(w, pairs, p_.k_pairs_ + block, p_.a_.head_dim, dS.rows(), p_.a_.head_dim, pairs, 1.0f, dQ.data(),
                dQ.outerStride(), true);
    }
    // Writes the unit's dK, dV [T, d]: the accumulated transposes.
    void finish() {
      const int d = p_.a_.head_dim, T = p_.a_.seq_len;
      dK_ = Eigen::Map<const Matrix>(s_.dk_t.data(), d, T).transpose();
      dV_ = Eigen::Map<const Matrix>(s_.dv_t.data(), d, T).transpose();
    }

   private:
    friend class Bf16AttentionBackward;
    struct Scratch {
      std::vector<uint32_t> pairs, q_cols, d_out_cols, tile;
      std::vector<float> dk_t, dv_t;
    };
    Unit(const Bf16AttentionBackward& p, int b, int g, Eigen::Ref<Matrix> dK, Eigen::Ref<Matrix> dV, Scratch& s)
        : p_(p), b_(b), g_(g), s_(s), dK_(dK), dV_(dV) {
      const size_t n = size_t(p.a_.head_dim) * size_t(p.a_.seq_len);
      std::memset(detail::grow(s_.dk_t, n), 0, n * sizeof(float));
      std::memset(detail::grow(s_.dv_t, n), 0, n * sizeof(float));
    }
    size_t unit() const { return size_t(b_) * size_t(p_.a_.kv_heads) + size_t(g_); }
    // X [rows, cols] = scale A B^T with A the rows c0.. of `rows` (q or d_out words) in head h_, B^T from `transposed`.
    void rows_by_keys(const uint32_t* rows, const uint32_t* transposed, int c0, int k0, float scale, Eigen::Ref<Matrix> X) const {
      const int d = p_.a_.head_dim, T = p_.a_.seq_len;
      tile_gemm(rows + (int64_t(b_) * T + c0) * p_.ldq_ + h_ * (d / 2), p_.ldq_,
                transposed + unit() * size_t(d / 2) * size_t(T) + size_t(k0), T, X.rows(), X.cols(), d / 2, scale, X.data(),
                X.outerStride(), false);
    }
    // acc[:, k0..] += cols^T-operand (d rows of row pairs from c0) times the tile's rows as pairs.
    void add_columns(const std::vector<uint32_t>& columns, const Eigen::Ref<const Matrix>& tile, int c0, int k0,
                     std::vector<float>& acc) {
      const int64_t pairs = (tile.rows() + 1) / 2;
      uint32_t* w = detail::grow(s_.tile, size_t(pairs) * size_t(tile.cols()));
      pair_columns(tile.data(), tile.outerStride(), tile.rows(), tile.cols(), w, tile.cols());
      tile_gemm(columns.data() + (c0 - q_lo_) / 2, row_pairs_, w, tile.cols(), p_.a_.head_dim, tile.cols(), pairs, 1.0f,
                acc.data() + k0, p_.a_.seq_len, true);
    }

    const Bf16AttentionBackward& p_;
    int b_, g_, h_ = 0, q_lo_ = 0, row_pairs_ = 0;
    Scratch& s_;
    Eigen::Ref<Matrix> dK_, dV_;
  };

  // The unit (b, g) of the calling thread, whose finish() writes dK, dV (its rows of dk, dv: [T, d]).
  Unit unit(int b, int g, Eigen::Ref<Matrix> dK, Eigen::Ref<Matrix> dV) const {
    thread_local Unit::Scratch scratch;
    return Unit(*this, b, g, dK, dV, scratch);
  }

 private:
  AttentionLayout a_;
  std::span<const int> key_first_;
  int64_t ldq_;
  const Eigen::Ref<const Matrix>& q_rows_;
  const Eigen::Ref<const Matrix>& d_out_rows_;
  uint32_t *q_ = nullptr, *d_out_ = nullptr, *k_t_ = nullptr, *v_t_ = nullptr, *k_pairs_ = nullptr;
};

}  // namespace bg2vec::backend::cpu
