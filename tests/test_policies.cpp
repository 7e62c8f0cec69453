// The example policies of examples/policies (what a user writes) against brute force computed here from
// their definitions, not from their code: the attention masks through the tiled forward and backward
// against a dense reference with the mask filled in pair by pair, their O(1) tile covers against pair-by-pair
// covers, the poolings against sums written out, and the symmetric SimCSE gradient against finite
// differences and against the one-direction objective run in both directions.
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "policies/instruction_prefix.hpp"
#include "policies/last_k.hpp"
#include "policies/sliding_window.hpp"
#include "policies/symmetric_simcse.hpp"
#include "policies/tail_decay.hpp"
#include "support.hpp"

#include <functional>

namespace test_policies {

using namespace bg2vec;

namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Mask = std::function<bool(int b, int query, int key)>;   // the policy's definition, key padding aside

using test::random_matrix;

// Row b has `lengths[b]` real tokens (right padding) of which the first `instruction[b]` are not pooled.
TokenBatch batch_of(int T, const std::vector<int>& lengths, const std::vector<int>& instruction) {
  TokenBatch batch;
  batch.batch = int(lengths.size());
  batch.seq_len = T;
  for (int b = 0; b < batch.batch; ++b)
    for (int t = 0; t < T; ++t) {
      batch.ids.push_back(t < lengths[size_t(b)] ? 5 : 0);
      batch.mask.push_back(t < lengths[size_t(b)]);
      batch.pool_mask.push_back(t < lengths[size_t(b)] && t >= instruction[size_t(b)]);
    }
  return batch;
}

// Dense softmax attention in double with the mask given pair by pair; forward and backward.
struct Reference {
  MatrixD out, dq, dk, dv;
  Reference(const Matrix& qf, const Matrix& kf, const Matrix& vf, const Matrix& dof, const TokenBatch& batch,
            const layers::AttentionShape& shape, const Mask& sees) {
    const MatrixD q = qf.cast<double>(), k = kf.cast<double>(), v = vf.cast<double>(), d_out = dof.cast<double>();
    const int T = batch.seq_len, d = shape.head_dim, group = shape.heads / shape.kv_heads;
    out.setZero(q.rows(), q.cols());
    dq.setZero(q.rows(), q.cols());
    dk.setZero(k.rows(), k.cols());
    dv.setZero(v.rows(), v.cols());
    for (int b = 0; b < batch.batch; ++b)
      for (int h = 0; h < shape.heads; ++h) {
        const int g = h / group;
        const Eigen::Index r = Eigen::Index(b) * T;
        MatrixD S = q.block(r, h * d, T, d) * k.block(r, g * d, T, d).transpose() * double(shape.score_scale());
        MatrixD P = MatrixD::Zero(T, T);
        for (int i = 0; i < T; ++i) {
          double max = -INFINITY, sum = 0;
          for (int j = 0; j < T; ++j)
            if (batch.real(b, j) && sees(b, i, j)) max = std::max(max, S(i, j));
          for (int j = 0; j < T; ++j)
            if (batch.real(b, j) && sees(b, i, j)) sum += P(i, j) = std::exp(S(i, j) - max);
          if (sum > 0) P.row(i) /= sum;
        }
        const auto dO = d_out.block(r, h * d, T, d);
        out.block(r, h * d, T, d) = P * v.block(r, g * d, T, d);
        dv.block(r, g * d, T, d) += P.transpose() * dO;
        MatrixD dS = dO * v.block(r, g * d, T, d).transpose();
        for (int i = 0; i < T; ++i) dS.row(i) = P.row(i).cwiseProduct((dS.row(i).array() - dS.row(i).dot(P.row(i))).matrix());
        dq.block(r, h * d, T, d) = dS * k.block(r, g * d, T, d) * double(shape.score_scale());
        dk.block(r, g * d, T, d) += dS.transpose() * q.block(r, h * d, T, d) * double(shape.score_scale());
      }
  }
};

double relative(const Matrix& ours, const MatrixD& reference) {
  const double scale = reference.cwiseAbs().maxCoeff();
  return (ours.cast<double>() - reference).cwiseAbs().maxCoeff() / (scale > 0 ? scale : 1.0);
}

struct TinyTiles {
  static constexpr int queries = 4;
  static constexpr int keys = 3;
  static constexpr int strip = 8;
};

// The policy P through the tiled forward and backward against the reference with `sees`.
template <AttentionPolicy P, class Tiles>
void check_attention(const TokenBatch& batch, const Mask& sees) {
  const layers::AttentionShape shape{4, 2, 8, std::nullopt, std::nullopt, std::nullopt};
  const int N = batch.tokens(), d = shape.head_dim;
  const Matrix q = random_matrix(N, shape.heads * d, 1), k = random_matrix(N, shape.kv_heads * d, 2),
               v = random_matrix(N, shape.kv_heads * d, 3), d_out = random_matrix(N, shape.heads * d, 4);
  const Reference ref(q, k, v, d_out, batch, shape, sees);
  Vector lse(batch.batch * shape.heads * batch.seq_len);
  Matrix out(N, shape.heads * d), dq(N, shape.heads * d), dk(N, shape.kv_heads * d), dv(N, shape.kv_heads * d);
  layers::attention_forward<P, Tiles>(q, k, v, batch, shape, lse, out);
  layers::attention_backward<P, Tiles>(q, k, v, out, lse, d_out, batch, shape, dq, dk, dv);
  CHECK(relative(out, ref.out) < 2e-5);
  CHECK(relative(dq, ref.dq) < 2e-5);
  CHECK(relative(dk, ref.dk) < 2e-5);
  CHECK(relative(dv, ref.dv) < 2e-5);
}

// A row mask with its cover() hidden, so that policy_cover asks sees() pair by pair.
template <class Row>
struct PairByPair {
  Row row;
  bool sees(int q, int k) const { return row.sees(q, k); }
};

template <class Row>
void check_cover(const Row& row, int T) {
  for (int q0 = 0; q0 < T; ++q0)
    for (int q1 = q0 + 1; q1 <= T; ++q1)
      for (int k0 = 0; k0 < T; ++k0)
        for (int k1 = k0 + 1; k1 <= T; ++k1)
          REQUIRE(layers::policy_cover(row, q0, q1, k0, k1) == layers::policy_cover(PairByPair<Row>{row}, q0, q1, k0, k1));
}

}  // namespace

TEST_CASE("SlidingWindow<W>: tiled attention forward and backward equal a |query - key| < W mask") {
  const TokenBatch batch = batch_of(13, {13, 9, 1}, {0, 0, 0});
  const auto window = [](int W) { return [W](int, int i, int j) { return std::abs(i - j) < W; }; };
  check_attention<policies::SlidingWindow<1>, TinyTiles>(batch, window(1));
  check_attention<policies::SlidingWindow<3>, TinyTiles>(batch, window(3));
  check_attention<policies::SlidingWindow<5>, layers::AttentionTiles>(batch, window(5));
  check_attention<policies::SlidingWindow<64>, layers::AttentionTiles>(batch_of(150, {150, 97}, {0, 0}), window(64));
  check_attention<policies::SlidingWindow<100>, TinyTiles>(batch, window(100));   // wider than T: bidirectional
  check_cover(policies::SlidingWindow<1>{}, 12);
  check_cover(policies::SlidingWindow<2>{}, 12);
  check_cover(policies::SlidingWindow<7>{}, 12);
}

TEST_CASE("InstructionPrefix: instruction tokens see only the instruction, text tokens see everything") {
  // Instructions of 4, 0 (none), 3, 1 tokens; the third row is also padded.
  const std::vector<int> instruction = {4, 0, 3, 1};
  const TokenBatch batch = batch_of(11, {11, 11, 7, 11}, instruction);
  const Mask prefix = [&](int b, int i, int j) { return i >= instruction[size_t(b)] || j < instruction[size_t(b)]; };
  for (int b = 0; b < batch.batch; ++b) CHECK(policies::InstructionPrefix::row(batch, b).end == instruction[size_t(b)]);
  check_attention<policies::InstructionPrefix, TinyTiles>(batch, prefix);
  check_attention<policies::InstructionPrefix, layers::AttentionTiles>(batch, prefix);
  // Long rows: instruction ends inside, at and across the library's 64-token tiles.
  const std::vector<int> long_instruction = {70, 64, 5};
  const TokenBatch long_batch = batch_of(140, {140, 130, 140}, long_instruction);
  check_attention<policies::InstructionPrefix, layers::AttentionTiles>(
      long_batch, [&](int b, int i, int j) { return i >= long_instruction[size_t(b)] || j < long_instruction[size_t(b)]; });
  for (const int end : {0, 1, 5, 12}) check_cover(policies::InstructionPrefix::Row{end}, 12);
  // Without an instruction the mask is Bidirectional's: the same outputs.
  const TokenBatch plain = batch_of(9, {9, 6}, {0, 0});
  check_attention<policies::InstructionPrefix, TinyTiles>(plain, [](int, int, int) { return true; });
}

TEST_CASE("LastK<K> and TailDecay<H> equal their sums written out, instructions and padding left out") {
  const std::vector<int> lengths = {10, 6, 3, 10}, instruction = {2, 0, 1, 9};
  const TokenBatch batch = batch_of(10, lengths, instruction);
  const Matrix hidden = random_matrix(batch.tokens(), 5, 7);
  const auto row = [&](int b, int t) { return hidden.row(Eigen::Index(b) * batch.seq_len + t); };
  Matrix last3 = Matrix::Zero(batch.batch, 5), decay = Matrix::Zero(batch.batch, 5);
  for (int b = 0; b < batch.batch; ++b) {
    const int first = instruction[size_t(b)], end = lengths[size_t(b)];   // pooled: [first, end)
    const int from = std::max(first, end - 3);
    for (int t = from; t < end; ++t) last3.row(b) += row(b, t) / float(end - from);
    double total = 0;
    for (int t = first; t < end; ++t) total += std::pow(2.0, -(end - 1 - t) / 2.0);
    for (int t = first; t < end; ++t) decay.row(b) += row(b, t) * float(std::pow(2.0, -(end - 1 - t) / 2.0) / total);
  }
  CHECK(test::relative_error(test::span_of(pool::pool_forward<policies::LastK<3>>(hidden, batch)), test::span_of(last3)) < 1e-6);
  CHECK(test::relative_error(test::span_of(pool::pool_forward<policies::TailDecay<2>>(hidden, batch)), test::span_of(decay)) < 1e-6);
  // LastK<1> is LastToken; the backward is the weights again (the library's, for any pooling).
  CHECK(pool::pool_forward<policies::LastK<1>>(hidden, batch) == pool::pool_forward<pool::LastToken>(hidden, batch));
  const Matrix d_pooled = random_matrix(batch.batch, 5, 8);
  Matrix d_hidden = Matrix::Zero(hidden.rows(), 5);
  pool::pool_backward<policies::LastK<3>>(d_pooled, batch, d_hidden);
  CHECK(d_hidden.row(0 * 10 + 9).isApprox(d_pooled.row(0) / 3.0f));
  CHECK(d_hidden.row(0 * 10 + 6).isZero(0));
  CHECK(d_hidden.row(2 * 10 + 1).isApprox(d_pooled.row(2) / 2.0f));   // row 2 pools only tokens 1, 2
  CHECK(d_hidden.row(2 * 10 + 0).isZero(0));                           // its instruction
}

TEST_CASE("BothDirections: gradient against finite differences, loss the mean of the two directions") {
  const Matrix a = random_matrix(5, 6, 11), b = a + 0.3f * random_matrix(5, 6, 12);
  const auto loss_of = [&](const Matrix& x, const Matrix& y) { return policies::BothDirections::loss(x, y, 0.5f, nullptr, nullptr); };
  const float tau = 0.5f;
  Matrix da = Matrix::Zero(5, 6), db = Matrix::Zero(5, 6);
  const double loss = policies::BothDirections::loss(a, b, tau, &da, &db);
  CHECK(loss == doctest::Approx(0.5 * (layers::info_nce(a, b, tau) + layers::info_nce(b, a, tau))));
  CHECK(policies::BothDirections::loss(a, b, tau, nullptr, nullptr) == doctest::Approx(loss));
  CHECK(policies::BothDirections::loss(b, a, tau, nullptr, nullptr) == doctest::Approx(loss));   // symmetric
  // Central differences in double on each coordinate (the loss in float: steps of 1e-2 keep its rounding small).
  const float h = 1e-2f;
  double worst = 0, largest = 0;
  for (const bool first : {true, false}) {
    const Matrix& analytic = first ? da : db;
    for (Eigen::Index i = 0; i < a.size(); ++i) {
      Matrix xp = first ? a : b, xm = xp;
      xp.data()[i] += h;
      xm.data()[i] -= h;
      const double lp = first ? loss_of(xp, b) : loss_of(a, xp), lm = first ? loss_of(xm, b) : loss_of(a, xm);
      worst = std::max(worst, std::abs((lp - lm) / (2 * h) - analytic.data()[i]));
      largest = std::max(largest, double(std::abs(analytic.data()[i])));
    }
  }
  CHECK(worst / largest < 2e-3);
}

TEST_CASE("SymmetricSimCse: the gradient is the mean of SimCse's in both directions, through the whole model") {
  Model model = load_model(test::fixture("hf/mistral-dev"));
  // Two fixed views (dropout off), so that each direction is a plain SimCse step on (a, b) or (b, a).
  TokenBatch a = batch_of(6, {6, 4, 5}, {0, 0, 0}), b = batch_of(6, {5, 6, 3}, {0, 0, 0});
  for (size_t i = 0; i < a.ids.size(); ++i) {
    a.ids[i] = a.mask[i] ? int32_t(3 + (i * 37) % 300) : 0;
    b.ids[i] = b.mask[i] ? int32_t(3 + (i * 53) % 300) : 0;
  }
  const train::TrainBatch ab{a, {}, b}, ba{b, {}, a};
  train::Trainer<policies::SymmetricSimCse<pool::Mean>> both(model, {{.temperature = 0.1f, .dropout = 0.0f}}, {});
  train::Trainer<train::SimCse> one(model, {.temperature = 0.1f, .dropout = 0.0f}, {});
  const double loss = both.gradients(std::span(&ab, 1));
  const std::vector<float> g(both.gradient().begin(), both.gradient().end());
  const double loss_ab = one.gradients(std::span(&ab, 1));
  std::vector<float> composed(one.gradient().begin(), one.gradient().end());
  const double loss_ba = one.gradients(std::span(&ba, 1));
  for (size_t i = 0; i < composed.size(); ++i) composed[i] = 0.5f * (composed[i] + one.gradient()[i]);
  CHECK(loss == doctest::Approx(0.5 * (loss_ab + loss_ba)));
  CHECK(test::relative_error(g, composed) < 1e-5);
  CHECK(std::abs(loss_ab - loss_ba) > 1e-4);           // the two directions differ: the test is not vacuous
}

}  // namespace test_policies
