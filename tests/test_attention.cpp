// The tiled attention (nn/attention.hpp) against a brute-force reference that materialises every head's
// T x T probabilities (the implementation the library had before): outputs and dQ, dK, dV on random
// inputs, for every combination of policy, sliding window, soft-cap, dropout and padding (none, right,
// left, rows of one real token), at lengths that are and are not multiples of the tile, with the
// library's tiles and with tiny ones (many tiles, every edge case on small shapes). The bf16 tile products
// (layers::Bf16Products, where the CPU has AVX512-BF16) against the same reference on the bf16-rounded inputs, within
// kBf16Tolerance: what is left is the rounding of P and dS before their products. (Against the unrounded inputs the
// soft-capped cases differ by up to 0.4: with tanh saturated, the cap's derivative 1 - tanh^2 amplifies the
// inputs' rounding, in bf16 attention anywhere.)
#include <bg2vec/nn/attention.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

namespace test_attention {

using namespace bg2vec;
using layers::AttentionShape;

namespace {

// ---- the brute-force reference --------------------------------------------------------------------
// In double precision, so that the comparison measures the tiled float32 code's error alone.

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The dropout factors of head bh's T x T probabilities: the same counter-based mask.
MatrixD reference_dropout(const Dropout& dropout, uint64_t stream, int bh, int T) {
  MatrixD Z(T, T);
  const uint64_t base = uint64_t(bh) * uint64_t(T) * uint64_t(T);
  for (int i = 0; i < T; ++i)
    for (int j = 0; j < T; ++j) Z(i, j) = dropout.factor(stream, base + uint64_t(i) * uint64_t(T) + uint64_t(j));
  return Z;
}

// The capped scores cap(s Q K^T) of head h (kv head g) of row b.
MatrixD reference_scores(const MatrixD& q, const MatrixD& k, const AttentionShape& shape, int T, int b, int h, int g) {
  const int d = shape.head_dim;
  MatrixD S = (q.block(Eigen::Index(b) * T, h * d, T, d) * k.block(Eigen::Index(b) * T, g * d, T, d).transpose()) *
              double(shape.score_scale());
  if (shape.softcap) S = (S.array() / double(*shape.softcap)).tanh() * double(*shape.softcap);
  return S;
}

// probs [B*heads*T, T]: the probabilities before dropout, kept for the backward pass.
template <AttentionPolicy P>
void reference_forward(const MatrixD& q, const MatrixD& k, const MatrixD& v, const TokenBatch& batch,
                       const AttentionShape& shape, MatrixD& probs, MatrixD& out, const Dropout& dropout, uint64_t stream) {
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  probs.resize(Eigen::Index(batch.batch) * shape.heads * T, T);
  out.resize(q.rows(), q.cols());
  for (int bh = 0; bh < batch.batch * shape.heads; ++bh) {
    const int b = bh / shape.heads, h = bh % shape.heads, g = h / group;
    MatrixD S = reference_scores(q, k, shape, T, b, h, g);
    for (int i = 0; i < T; ++i) {
      double max = -std::numeric_limits<double>::infinity();
      for (int j = 0; j < T; ++j)
        if (layers::visible<P>(batch, b, i, j, shape.sliding_window)) max = std::max(max, S(i, j));
      double sum = 0;
      for (int j = 0; j < T; ++j) {
        const double e = layers::visible<P>(batch, b, i, j, shape.sliding_window) ? std::exp(S(i, j) - max) : 0.0;
        S(i, j) = e;
        sum += e;
      }
      S.row(i) *= sum > 0 ? 1.0 / sum : 0.0;           // a query that sees no key: a zero row
    }
    probs.block(Eigen::Index(bh) * T, 0, T, T) = S;
    if (dropout.active()) S = S.cwiseProduct(reference_dropout(dropout, stream, bh, T));
    out.block(Eigen::Index(b) * T, h * d, T, d) = S * v.block(Eigen::Index(b) * T, g * d, T, d);
  }
}

// dV += (P Z)^T dO;  dP = (dO V^T) Z;  dS = P * (dP - rowsum(dP * P)) * cap';  dQ = s dS K;  dK += s dS^T Q.
void reference_backward(const MatrixD& q, const MatrixD& k, const MatrixD& v, const MatrixD& probs, const MatrixD& d_out,
                        const TokenBatch& batch, const AttentionShape& shape, MatrixD& dq, MatrixD& dk, MatrixD& dv,
                        const Dropout& dropout, uint64_t stream) {
  const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
  const double scale = shape.score_scale();
  dq.setZero(q.rows(), q.cols());
  dk.setZero(k.rows(), k.cols());
  dv.setZero(v.rows(), v.cols());
  for (int bh = 0; bh < batch.batch * shape.heads; ++bh) {
    const int b = bh / shape.heads, h = bh % shape.heads, g = h / group;
    const Eigen::Index row = Eigen::Index(b) * T;
    const MatrixD Pm = probs.block(Eigen::Index(bh) * T, 0, T, T);
    const MatrixD Z = dropout.active() ? reference_dropout(dropout, stream, bh, T) : MatrixD::Ones(T, T);
    const auto dO = d_out.block(row, h * d, T, d);
    dv.block(row, g * d, T, d) += Pm.cwiseProduct(Z).transpose() * dO;
    MatrixD dS = (dO * v.block(row, g * d, T, d).transpose()).cwiseProduct(Z);
    for (int i = 0; i < T; ++i) {
      const double dot = dS.row(i).dot(Pm.row(i));
      dS.row(i) = Pm.row(i).cwiseProduct((dS.row(i).array() - dot).matrix());
    }
    if (shape.softcap) {
      const MatrixD capped = reference_scores(q, k, shape, T, b, h, g);
      dS.array() *= 1.0 - (capped.array() / double(*shape.softcap)).square();
    }
    dq.block(row, h * d, T, d) = (dS * k.block(row, g * d, T, d)) * scale;
    dk.block(row, g * d, T, d) += (dS.transpose() * q.block(row, h * d, T, d)) * scale;
  }
}

// ---- inputs ---------------------------------------------------------------------------------------

using test::random_matrix;

enum class Padding { None, Right, Left };

// Rows of decreasing real length, the last with one real token; padding on the right or the left.
TokenBatch batch_of(int B, int T, Padding padding) {
  TokenBatch batch{B, T, std::vector<int32_t>(size_t(B) * T, 1), std::vector<uint8_t>(size_t(B) * T, 1), {}};
  if (padding == Padding::None) return batch;
  for (int b = 0; b < B; ++b) {
    const int real = b + 1 == B ? 1 : std::max(1, T - b * (T / B) - b);
    for (int t = 0; t < T; ++t) {
      const bool is_real = padding == Padding::Right ? t < real : t >= T - real;
      batch.mask[size_t(b) * T + t] = is_real;
      if (!is_real) batch.ids[size_t(b) * T + t] = 0;
    }
  }
  return batch;
}

// max |ours - reference| / max |reference| (absolute where the reference is all zero)
double relative(const Matrix& ours, const MatrixD& reference) {
  const double scale = reference.cwiseAbs().maxCoeff(), diff = (ours.cast<double>() - reference).cwiseAbs().maxCoeff();
  return scale > 0 ? diff / scale : diff;
}

struct TinyTiles {                     // many tiles on small shapes; rectangular, so rows and columns differ
  static constexpr int queries = 4;
  static constexpr int keys = 3;
  static constexpr int strip = 8;      // backward strips of two query tiles
};

struct TinyEvenTiles {                 // the same for the bf16 products, which pair keys and query rows
  static constexpr int queries = 4;
  static constexpr int keys = 2;
  static constexpr int strip = 8;
};

// float32 against float64: sums of up to T products of unit-sized terms, so a few ulps of the largest gradient.
constexpr double kTolerance = 2e-5;
// bf16 products of bf16 inputs: measured (2026-12-02) up to 3.9e-3 over every case below. Their dropout is p = 0.5,
// whose factor 2 bf16 holds exactly: P Z with Z = 1/0.7 rounds to a slightly different factor in the forward
// pass than the float32 Z of dP Z in the backward, and the soft-capped cases, whose true gradient is tiny
// against its terms, then differ by up to 0.12 (a bf16 effect, as in any bf16 attention; no bug).
constexpr double kBf16Tolerance = 1e-2;

Matrix round_bf16(const Matrix& x) { return x.unaryExpr([](float v) { return bf16_to_f32(f32_to_bf16(v)); }); }

// Every combination on one batch shape: policy x window x soft-cap x dropout x padding.
template <AttentionPolicy P, class Tiles, class Products = layers::F32Products>
void check_all(int B, int T, int heads, int kv, int d) {
  const double tolerance = std::is_same_v<Products, layers::F32Products> ? kTolerance : kBf16Tolerance;
  double worst = 0;
  const auto check = [&](const std::string what, const Matrix& ours, const MatrixD& reference) {
    CAPTURE(what);
    const double r = relative(ours, reference);
    worst = std::max(worst, r);
    CHECK(r < tolerance);
  };
  for (const Padding padding : {Padding::None, Padding::Right, Padding::Left})
  for (const std::optional<int> window : {std::optional<int>{}, std::optional<int>{std::max(2, T / 3)}})
  for (const std::optional<float> cap : {std::optional<float>{}, std::optional<float>{1.5f}})
  for (const float p : {0.0f, std::is_same_v<Products, layers::F32Products> ? 0.3f : 0.5f}) {
    CAPTURE(int(padding));
    CAPTURE(window.value_or(0));
    CAPTURE(cap.value_or(0.0f));
    CAPTURE(p);
    const TokenBatch batch = batch_of(B, T, padding);
    const AttentionShape shape{heads, kv, d, window, cap ? std::optional<float>(0.6f) : std::nullopt, cap};
    const Dropout dropout{p, 1234};
    const uint64_t stream = attention_stream(3);
    constexpr bool bf16 = !std::is_same_v<Products, layers::F32Products>;
    const auto input = [&](const Matrix& x) { return bf16 ? round_bf16(x) : x; };
    const Matrix q = input(random_matrix(B * T, heads * d, 1, 1.5f)), k = input(random_matrix(B * T, kv * d, 2, 1.5f)),
                 v = input(random_matrix(B * T, kv * d, 3));
    MatrixD probs, expected;
    reference_forward<P>(q.cast<double>(), k.cast<double>(), v.cast<double>(), batch, shape, probs, expected, dropout, stream);
    Vector lse(B * heads * T);
    Matrix out(B * T, heads * d);
    layers::attention_forward<P, Tiles, Products>(q, k, v, batch, shape, lse, out, dropout, stream);
    check("out", out, expected);

    // d_out everywhere (padded rows included), and as training gives it: zero on padded rows.
    for (const bool zero_pads : {false, true}) {
      CAPTURE(zero_pads);
      Matrix d_out = input(random_matrix(B * T, heads * d, 4));
      if (zero_pads)
        for (int r = 0; r < B * T; ++r)
          if (!batch.mask[size_t(r)]) d_out.row(r).setZero();
      MatrixD dq_ref, dk_ref, dv_ref;
      reference_backward(q.cast<double>(), k.cast<double>(), v.cast<double>(), probs, d_out.cast<double>(), batch, shape,
                         dq_ref, dk_ref, dv_ref, dropout, stream);
      Matrix dq(B * T, heads * d), dk(B * T, kv * d), dv(B * T, kv * d);
      dq.setConstant(7.0f);                            // backward overwrites, never adds to what was there
      dk.setConstant(7.0f);
      dv.setConstant(7.0f);
      layers::attention_backward<P, Tiles, Products>(q, k, v, out, lse, d_out, batch, shape, dq, dk, dv, dropout, stream);
      check("dq", dq, dq_ref);
      check("dk", dk, dk_ref);
      check("dv", dv, dv_ref);
    }
  }
  if (!std::is_same_v<Products, layers::F32Products>) MESSAGE("bf16 products: worst relative error " << worst);
}

bool bf16_here() {
  if (backend::cpu::has_avx512_bf16()) return true;
  MESSAGE("no AVX512-BF16 on this CPU: the bf16 products are not tested");
  return false;
}

}  // namespace

TEST_CASE_TEMPLATE("tiled attention equals the brute-force reference, tiny tiles", P, Causal, Bidirectional,
                   test::CausalWithoutWindow) {
  for (const int T : {1, 2, 7, 12, 13}) {
    CAPTURE(T);
    check_all<P, TinyTiles>(3, T, 4, 2, 8);
  }
}

TEST_CASE_TEMPLATE("tiled attention equals the brute-force reference, the library's tiles", P, Causal, Bidirectional) {
  using Tiles = layers::AttentionTiles;
  for (const int T : {Tiles::queries, 2 * Tiles::keys + 5, 131}) {
    CAPTURE(T);
    check_all<P, Tiles>(2, T, 4, 1, 16);
  }
}

TEST_CASE_TEMPLATE("bf16 tile products agree with the brute-force reference within the bf16 tolerance", P, Causal,
                   Bidirectional, test::CausalWithoutWindow) {
  if (!bf16_here()) return;
  for (const int T : {1, 2, 7, 12, 13}) {
    CAPTURE(T);
    check_all<P, TinyEvenTiles, layers::Bf16Products>(3, T, 4, 2, 8);
  }
  using Tiles = layers::AttentionTiles;
  check_all<P, Tiles, layers::Bf16Products>(2, 2 * Tiles::keys + 5, 2, 1, 64);   // several key tiles, head_dim 64
  check_all<P, Tiles, layers::Bf16Products>(2, Tiles::strip + 3, 2, 1, 16);      // two strips
}

TEST_CASE("a row that sees no key: zero output, no gradient, no NaN") {
  // Left padding with a window of 1 under the causal policy: pad queries at the start see no real key.
  const int B = 1, T = 9, heads = 2, kv = 1, d = 4;
  TokenBatch batch = batch_of(B, T, Padding::None);
  for (int t = 0; t < 4; ++t) batch.mask[size_t(t)] = 0;
  const AttentionShape shape{heads, kv, d, 1, std::nullopt, std::nullopt};
  const Matrix q = random_matrix(B * T, heads * d, 1), k = random_matrix(B * T, kv * d, 2), v = random_matrix(B * T, kv * d, 3);
  Vector lse(B * heads * T);
  Matrix out(B * T, heads * d);
  layers::attention_forward<Causal, TinyTiles>(q, k, v, batch, shape, lse, out);
  CHECK(out.topRows(4).isZero(0));
  CHECK(out.allFinite());
  const Matrix d_out = random_matrix(B * T, heads * d, 4);
  Matrix dq(B * T, heads * d), dk(B * T, kv * d), dv(B * T, kv * d);
  layers::attention_backward<Causal, TinyTiles>(q, k, v, out, lse, d_out, batch, shape, dq, dk, dv);
  CHECK(dq.allFinite());
  CHECK(dq.topRows(4).isZero(0));
  CHECK(dk.topRows(4).isZero(0));                      // padded keys get no gradient
  CHECK(dv.topRows(4).isZero(0));
}

TEST_CASE("tile covers: the O(1) answers of Causal and Bidirectional agree with pair-by-pair evaluation") {
  for (int q0 = 0; q0 < 12; ++q0)
    for (int q1 = q0 + 1; q1 <= 12; ++q1)
      for (int k0 = 0; k0 < 12; ++k0)
        for (int k1 = k0 + 1; k1 <= 12; ++k1) {
          CHECK(layers::policy_cover(Causal{}, q0, q1, k0, k1) == layers::policy_cover(test::CausalWithoutWindow{}, q0, q1, k0, k1));
          CHECK(layers::policy_cover(Bidirectional{}, q0, q1, k0, k1) == layers::Cover::All);
        }
}

}  // namespace test_attention
