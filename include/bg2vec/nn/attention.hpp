#pragma once
// Grouped-query scaled dot-product attention for one batch, all heads:
//   S = cap(s Q K^T),  P = softmax(S + mask),  out = dropout(P) V,
// with s = 1/sqrt(d) (Gemma-2: query_pre_attn_scalar^-1/2) and cap the identity, or Gemma-2's
// soft-capping cap * tanh(x / cap); query head h reads key/value head h / (heads / kv_heads), as HF's
// repeat_kv. The policy decides which keys a query sees (row_mask<P>: once per row, for policies whose mask
// depends on the row); key padding is applied on top of it.
//
// Computed tile by tile, as FlashAttention-2 does (tile sizes: nn/attention_tiles.hpp), so that the T x T
// probabilities never exist: a tile of queries visits the key tiles in turn, keeping per row the running
// max m and sum l of the exponentials (online softmax):
//   m' = max(m, rowmax S_t),  l' = e^(m - m') l + rowsum e^(S_t - m'),  O' = e^(m - m') O + dropout(e^(S_t - m')) V_t,
// and out = O / l at the end. Only each row's logsumexp lse = m + log l is kept for the backward pass,
// which recomputes P = e^(S - lse) tile by tile. Key tiles start at a row's first real token and stop
// at its last; tiles that the policy, the window or the padding hide entirely are skipped.
//
// The tile products go through `Products` (nn/attention_products.hpp): float32 on Eigen by default, bf16
// with float32 accumulation where the decoder computes in bf16.
//
// Padded queries are computed as real ones (they attend to the real keys they see): the hidden states
// and logits at pad positions are part of what the HF parity tests (and `encode --logits`) compare. The
// backward pass skips the query rows whose output gradient is zero, which padding's is.
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/nn/attention_policy.hpp>
#include <bg2vec/nn/attention_products.hpp>
#include <bg2vec/nn/attention_tiles.hpp>
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/nn/softcap.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

namespace bg2vec::layers {

struct AttentionShape {
  int heads = 0, kv_heads = 0, head_dim = 0;
  std::optional<int> sliding_window;   // this layer's window (Gemma-2 slides on some layers only)
  std::optional<float> scale;          // of Q K^T; default 1/sqrt(head_dim)
  std::optional<float> softcap;        // Gemma-2's attn_logit_softcapping

  float score_scale() const { return scale ? *scale : 1.0f / std::sqrt(float(head_dim)); }
};

// Whether `query` sees `key` in row b, whose mask is `row` (row_mask<P>(batch, b)): policy, window, padding.
template <AttentionPolicy P, class Row>
inline bool visible(const Row& row, const TokenBatch& batch, int b, int query, int key, const std::optional<int>& window) {
  if (!batch.real(b, key) || !row.sees(query, key)) return false;
  if constexpr (P::honours_sliding_window) {
    if (window && query - key >= *window) return false;
  }
  return true;
}

// The same for one pair, the row's mask made here (brute-force references; the tiles make it once per row).
template <AttentionPolicy P>
inline bool visible(const TokenBatch& batch, int b, int query, int key, const std::optional<int>& window) {
  return visible<P>(row_mask<P>(batch, b), batch, b, query, key, window);
}

namespace detail {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// The forward pass's per-thread tiles, allocated once at full tile size; a tile at the sequence's edge
// uses a corner.
template <class Tiles>
struct AttentionScratch {
  Matrix S{Tiles::queries, Tiles::keys}, P{Tiles::queries, Tiles::keys}, Z{Tiles::queries, Tiles::keys};
  Vector m{Tiles::queries}, l{Tiles::queries}, m_new{Tiles::queries}, shift{Tiles::queries}, alpha{Tiles::queries};
};

// P(i, :) = exp(S(i, :) - c(i)), row by row: Eigen vectorises the exp of a row minus a scalar, not of a
// row-major tile minus a broadcast column (which falls back to scalar expf).
inline void exp_rows(const Eigen::Ref<const Matrix>& S, const Eigen::Ref<const Vector>& c, Eigen::Ref<Matrix> P) {
  for (Eigen::Index i = 0; i < S.rows(); ++i) P.row(i) = (S.row(i).array() - c(i)).exp().matrix();
}

// Sets the entries of the tile (queries q0.., keys k0..) that row b's queries do not see to `value`.
template <AttentionPolicy P, class Row>
void mask_tile(const Row& row, const TokenBatch& batch, int b, int q0, int k0, const std::optional<int>& window, float value,
               Eigen::Ref<Matrix> X) {
  for (Eigen::Index i = 0; i < X.rows(); ++i)
    for (Eigen::Index j = 0; j < X.cols(); ++j)
      if (!visible<P>(row, batch, b, q0 + int(i), k0 + int(j), window)) X(i, j) = value;
}

// The dropout factors of a tile, Z(i, j) = factor(base + (q0 + i) T + k0 + j) with base = bh T^2: the
// index of element (i, j) of head bh's T x T probabilities, so that the mask is a function of the
// position alone (the same for any tiling) and the backward pass regenerates it.
inline void dropout_tile(const Dropout& dropout, uint64_t stream, int bh, int T, int q0, int k0, Eigen::Ref<Matrix> Z) {
  const uint64_t base = uint64_t(bh) * uint64_t(T) * uint64_t(T);
  for (Eigen::Index i = 0; i < Z.rows(); ++i)
    dropout.factors(stream, base + uint64_t(q0 + i) * uint64_t(T) + uint64_t(k0), int(Z.cols()), &Z(i, 0));
}

}  // namespace detail

// q [B*T, heads*d] and k, v [B*T, kv_heads*d] (q, k already rotated). out [B*T, heads*d] receives the
// attended values, lse [B*heads*T] (index (b heads + h) T + i) each query row's logsumexp of its visible
// scores (+inf for a row that sees no key, whose output is zero), which the backward pass needs.
// Parallel over (batch, head, query tile): each owns its rows of out and lse.
template <AttentionPolicy P, class Tiles = AttentionTiles, class Products = F32Products>
void attention_forward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k,
                       const Eigen::Ref<const Matrix>& v, const TokenBatch& batch, const AttentionShape& shape,
                       Eigen::Ref<Vector> lse, Eigen::Ref<Matrix> out, const Dropout& dropout = {}, uint64_t stream = 0) {
  static_assert(!Products::pairs_positions || Tiles::keys % 2 == 0, "these tile products pair keys: tiles of an even number of keys");
  const int T = batch.seq_len, d = shape.head_dim;
  const float scale = shape.score_scale();
  const KeyPadding padding(batch);
  const typename Products::Forward products(q, k, v, batch, shape.heads, shape.kv_heads, d, padding);
  const int query_tiles = (T + Tiles::queries - 1) / Tiles::queries;
#pragma omp parallel for schedule(dynamic)
  for (int unit = 0; unit < batch.batch * shape.heads * query_tiles; ++unit) {
    const int bh = unit / query_tiles, b = bh / shape.heads, h = bh % shape.heads;
    const int q0 = (unit % query_tiles) * Tiles::queries, rows = std::min(Tiles::queries, T - q0);
    const Eigen::Index row0 = Eigen::Index(b) * T;
    const auto mask = row_mask<P>(batch, b);
    auto O = out.block(row0 + q0, h * d, rows, d);
    thread_local detail::AttentionScratch<Tiles> s;
    auto m = s.m.head(rows), l = s.l.head(rows), m_new = s.m_new.head(rows), shift = s.shift.head(rows);
    auto alpha = s.alpha.head(rows);
    O.setZero();
    m.setConstant(detail::kMinusInf);
    l.setZero();
    for (int k0 = padding.first(b); k0 < padding.end(b); k0 += Tiles::keys) {
      const int cols = std::min(Tiles::keys, padding.end(b) - k0);
      const Cover cover = tile_cover<P>(padding, mask, b, q0, q0 + rows, k0, k0 + cols, shape.sliding_window);
      if (cover == Cover::None) continue;
      auto S = s.S.topLeftCorner(rows, cols);
      auto Pt = s.P.topLeftCorner(rows, cols);
      products.scores(b, h, q0, k0, scale, S);                            // S = cap(s Q K^T)
      softcap_forward(S, shape.softcap);
      if (cover == Cover::Some) detail::mask_tile<P>(mask, batch, b, q0, k0, shape.sliding_window, detail::kMinusInf, S);
      // m' = max(m, rowmax S); a row that has seen no key yet keeps m' = -inf and subtracts 0 instead,
      // its exponentials being masked to 0 below.
      m_new = m.cwiseMax(S.rowwise().maxCoeff());
      shift = (m_new.array() == detail::kMinusInf).select(0.0f, m_new.array()).matrix();
      detail::exp_rows(S, shift, Pt);
      if (cover == Cover::Some) Pt = (S.array() == detail::kMinusInf).select(0.0f, Pt.array()).matrix();
      alpha = (m - shift).array().exp().matrix();      // e^(m - m'), 0 while m = -inf (l and O are 0 then)
      l = alpha.cwiseProduct(l) + Pt.rowwise().sum();
      m = m_new;
      // The normaliser l sums the probabilities before dropout; the values see the dropped-out ones.
      if (dropout.active()) {
        auto Z = s.Z.topLeftCorner(rows, cols);
        detail::dropout_tile(dropout, stream, bh, T, q0, k0, Z);
        Pt = Pt.cwiseProduct(Z);
      }
      for (int i = 0; i < rows; ++i) O.row(i) *= alpha(i);
      products.add_values(Pt, b, h, k0, O);                               // O += P V
    }
    for (int i = 0; i < rows; ++i) {
      // A query that sees no key (impossible with one real token per row) gets a zero row, not NaN.
      const bool sees = l(i) > 0;
      O.row(i) *= sees ? 1.0f / l(i) : 0.0f;
      lse(Eigen::Index(bh) * T + q0 + i) = sees ? m(i) + std::log(l(i)) : std::numeric_limits<float>::infinity();
    }
  }
}

// Given out and lse from the forward pass and d_out, the gradient of `out`, with P = e^(S - lse)
// recomputed, Z the dropout factors and D = rowsum(dO * out) (= rowsum(P * dP), since out = (P Z) V):
//   dV += (P Z)^T dO;  dP = (dO V^T) Z;  dS = P * (dP - D), times cap's derivative 1 - (S / cap)^2;
//   dQ += s dS K;  dK += s dS^T Q.
// One key tile at a time against strips of query rows: the query tiles from the first to the last that
// the tile's keys are visible to (Some tiles masked), limited to the rows with a gradient (padding's have
// none), cut into strips of Tiles::strip rows. Strips rather than tiles of queries: five products of
// strip x tile x d amortise the packing a tile-by-tile product pays per call. Hidden pairs have P = 0 and so get no gradient. The query
// heads of one kv head add into the same dK, dV rows, so the parallel loop runs over (batch, kv head),
// longest rows first, and the group's heads in turn: every output element has one writer, and the sums
// run in a fixed order.
template <AttentionPolicy P, class Tiles = AttentionTiles, class Products = F32Products>
void attention_backward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k,
                        const Eigen::Ref<const Matrix>& v, const Eigen::Ref<const Matrix>& out,
                        const Eigen::Ref<const Vector>& lse, const Eigen::Ref<const Matrix>& d_out,
                        const TokenBatch& batch, const AttentionShape& shape, Eigen::Ref<Matrix> dq,
                        Eigen::Ref<Matrix> dk, Eigen::Ref<Matrix> dv, const Dropout& dropout = {}, uint64_t stream = 0) {
  static_assert(Tiles::strip % Tiles::queries == 0, "a strip is whole query tiles (their covers are the masks)");
  static_assert(!Products::pairs_positions || (Tiles::keys % 2 == 0 && Tiles::queries % 2 == 0),
                "these tile products pair keys and query rows: tiles of an even number of each");
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  const float scale = shape.score_scale();
  const KeyPadding padding(batch);
  const typename Products::Backward products(q, k, v, d_out, batch, shape.heads, shape.kv_heads, d, padding);
  std::vector<int> units(size_t(batch.batch) * size_t(shape.kv_heads));
  std::iota(units.begin(), units.end(), 0);
  std::stable_sort(units.begin(), units.end(), [&](int x, int y) {
    const int bx = x / shape.kv_heads, by = y / shape.kv_heads;
    return padding.end(bx) - padding.first(bx) > padding.end(by) - padding.first(by);
  });
#pragma omp parallel for schedule(dynamic)
  for (size_t u = 0; u < units.size(); ++u) {
    const int b = units[u] / shape.kv_heads, g = units[u] % shape.kv_heads;
    const Eigen::Index row0 = Eigen::Index(b) * T;
    const auto mask = row_mask<P>(batch, b);
    auto products_of_unit = products.unit(b, g, dk.block(row0, g * d, T, d), dv.block(row0, g * d, T, d));   // zeroes dK, dV
    thread_local Matrix S, Pm, dP, Z;                  // [strip, key tile]
    thread_local Vector D;
    for (Matrix* m : {&S, &Pm, &dP, &Z})
      if (m->rows() < std::min(T, Tiles::strip)) m->resize(std::min(T, Tiles::strip), Tiles::keys);
    for (int h = g * group; h < (g + 1) * group; ++h) {
      const int bh = b * shape.heads + h;
      const auto dO = d_out.block(row0, h * d, T, d);
      auto dQ = dq.block(row0, h * d, T, d);
      dQ.setZero();
      // The query rows with a gradient: [q_lo, q_hi).
      int q_lo = 0, q_hi = T;
      while (q_lo < T && dO.row(q_lo).isZero(0)) ++q_lo;
      while (q_hi > q_lo && dO.row(q_hi - 1).isZero(0)) --q_hi;
      D = dO.cwiseProduct(out.block(row0, h * d, T, d)).rowwise().sum();
      products_of_unit.head(h, q_lo, q_hi);
      for (int k0 = padding.first(b); k0 < padding.end(b); k0 += Tiles::keys) {
        const int cols = std::min(Tiles::keys, padding.end(b) - k0);
        // The strip [r0, r1): query tiles (of Tiles::queries rows from q_lo) that see any of these keys.
        int r0 = q_hi, r1 = q_lo;
        for (int t0 = q_lo; t0 < q_hi; t0 += Tiles::queries) {
          const int t1 = std::min(t0 + Tiles::queries, q_hi);
          if (tile_cover<P>(padding, mask, b, t0, t1, k0, k0 + cols, shape.sliding_window) == Cover::None) continue;
          r0 = std::min(r0, t0);
          r1 = t1;
        }
        if (r0 >= r1) continue;
        for (int c0 = r0; c0 < r1; c0 += Tiles::strip) {     // strips of at most Tiles::strip rows
          const int c1 = std::min(c0 + Tiles::strip, r1);
          const int rows = c1 - c0;
          auto St = S.topLeftCorner(rows, cols);
          auto Pt = Pm.topLeftCorner(rows, cols);
          auto dPt = dP.topLeftCorner(rows, cols);
          products_of_unit.scores(c0, k0, scale, St);                    // S = cap(s Q K^T)
          softcap_forward(St, shape.softcap);
          detail::exp_rows(St, lse.segment(Eigen::Index(bh) * T + c0, rows), Pt);
          for (int t0 = c0; t0 < c1; t0 += Tiles::queries) {   // zero what the policy, window, padding hide
            const int t1 = std::min(t0 + Tiles::queries, c1);
            if (tile_cover<P>(padding, mask, b, t0, t1, k0, k0 + cols, shape.sliding_window) != Cover::All)
              detail::mask_tile<P>(mask, batch, b, t0, k0, shape.sliding_window, 0.0f, Pt.middleRows(t0 - c0, t1 - t0));
          }
          products_of_unit.grad_probs(c0, k0, dPt);                      // dP = dO V^T
          if (dropout.active()) {
            auto Zt = Z.topLeftCorner(rows, cols);
            detail::dropout_tile(dropout, stream, bh, T, c0, k0, Zt);
            dPt = dPt.cwiseProduct(Zt);
            Zt = Pt.cwiseProduct(Zt);
            products_of_unit.add_value_grad(Zt, c0, k0);                  // dV += (P Z)^T dO
          } else {
            products_of_unit.add_value_grad(Pt, c0, k0);                  // dV += P^T dO
          }
          // s dS = s P * (dP - D), written over dP entry by entry (s here: `+= (dS * K) * s` would make
          // Eigen evaluate the product coefficient by coefficient instead of as a GEMM).
          for (int i = 0; i < rows; ++i)
            dPt.row(i) = Pt.row(i).cwiseProduct((dPt.row(i).array() - D(c0 + i)).matrix()) * scale;
          if (shape.softcap) dPt.array() *= 1.0f - (St.array() / *shape.softcap).square();
          const auto& dS = dPt;
          products_of_unit.add_query_grad(dS, k0, dQ.middleRows(c0, rows));   // dQ += dS K
          products_of_unit.add_key_grad(dS, c0, k0);                           // dK += dS^T Q
        }
      }
    }
    products_of_unit.finish();
  }
}

}  // namespace bg2vec::layers
