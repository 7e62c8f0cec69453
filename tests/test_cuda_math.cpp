// The CUDA backend's per-element and per-row math (include/bg2vec/cuda/math/), which its kernels run with
// one thread block (or warp) per row, compiled here by the host compiler and run one row at a time
// (SerialLane) against the CPU layers of nn/ and train/, which match transformers. Needs no GPU and no nvcc:
// what is left to the device is the launch configuration, the block reductions, cuBLASLt and memory
// (tests/cuda/test_cuda_device.cpp). Tolerances: float32 rounding of sums taken in another order.
#include <bg2vec/cuda/math/adamw.hpp>
#include <bg2vec/cuda/math/attention.hpp>
#include <bg2vec/cuda/math/cross_entropy.hpp>
#include <bg2vec/cuda/math/dropout.hpp>
#include <bg2vec/cuda/math/embedding.hpp>
#include <bg2vec/cuda/math/gated.hpp>
#include <bg2vec/cuda/math/info_nce.hpp>
#include <bg2vec/cuda/math/pooling.hpp>
#include <bg2vec/cuda/math/rmsnorm.hpp>
#include <bg2vec/cuda/math/rope.hpp>
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/info_nce.hpp>
#include <bg2vec/nn/mlp.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/nn/rmsnorm.hpp>
#include <bg2vec/nn/rope.hpp>
#include <bg2vec/train/optimizer.hpp>

#include <doctest/doctest.h>

#include <random>
#include <vector>

namespace test_cuda_math {

using namespace bg2vec;
namespace cu = bg2vec::cuda;

namespace {

const cu::SerialLane lane;

Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

// max |a - b| / max |b|
double relative_error(const Eigen::Ref<const Matrix>& actual, const Eigen::Ref<const Matrix>& expected) {
  REQUIRE(actual.rows() == expected.rows());
  REQUIRE(actual.cols() == expected.cols());
  const double scale = expected.cwiseAbs().maxCoeff();
  const double diff = (actual - expected).cwiseAbs().maxCoeff();
  return scale > 0 ? diff / scale : diff;
}

// Right-padded batch: row b has lengths[b] real tokens; ids drawn below `vocab` (repeats included).
TokenBatch padded_batch(const std::vector<int>& lengths, int seq_len, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  TokenBatch batch;
  batch.batch = int(lengths.size());
  batch.seq_len = seq_len;
  for (int b = 0; b < batch.batch; ++b)
    for (int t = 0; t < seq_len; ++t) {
      const bool real = t < lengths[size_t(b)];
      batch.ids.push_back(real ? int32_t(rng() % uint32_t(vocab)) : 0);
      batch.mask.push_back(real ? 1 : 0);
    }
  return batch;
}

}  // namespace

TEST_CASE("bf16 conversion rounds as core/dtype.hpp does, NaN and infinities included") {
  std::vector<uint32_t> patterns = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u,
                                    0xffffffffu, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0x00000001u};
  for (uint64_t u = 0; u < (uint64_t(1) << 32); u += 65521) patterns.push_back(uint32_t(u));   // every bit region
  for (const uint32_t u : patterns) {
    const float f = cu::bits_float(u);
    CAPTURE(u);
    REQUIRE(cu::to_bf16(f).bits == f32_to_bf16(f));
    const uint16_t h = uint16_t(u >> 16);
    const float back = cu::to_float(cu::Bf16{h});
    REQUIRE(cu::float_bits(back) == cu::float_bits(bf16_to_f32(h)));
  }
}

TEST_CASE("RMSNorm rows: forward, backward and the weight gradient, Llama's w and Gemma's 1 + w") {
  const int N = 7, H = 96;
  const Matrix x = random_matrix(N, H, 1), dy = random_matrix(N, H, 2);
  const Vector w = random_matrix(H, 1, 3, 0.3f);
  for (const float offset : {0.0f, 1.0f}) {
    CAPTURE(offset);
    Matrix y(N, H), y_ref(N, H), dx = random_matrix(N, H, 4), dx_ref = dx;
    Vector r(N), r_ref(N), dw(H), dw_ref = Vector::Zero(H);
    layers::rmsnorm_forward(x, w, 1e-6f, y_ref, r_ref, offset);
    layers::rmsnorm_backward(x, w, r_ref, dy, dx_ref, offset);
    layers::rmsnorm_backward_weight(x, r_ref, dy, dw_ref);
    for (int i = 0; i < N; ++i) {
      r[i] = cu::rmsnorm_forward_row(lane, &x(i, 0), w.data(), offset, 1e-6f, H, &y(i, 0));
      cu::rmsnorm_backward_row(lane, &x(i, 0), w.data(), offset, r[i], &dy(i, 0), H, &dx(i, 0));
    }
    for (int j = 0; j < H; ++j) dw[j] = cu::rmsnorm_weight_grad_column(x.data(), r.data(), dy.data(), N, H, j);
    CHECK(relative_error(r, r_ref) < 1e-6);
    CHECK(relative_error(y, y_ref) < 1e-6);
    CHECK(relative_error(dx, dx_ref) < 1e-6);
    CHECK(relative_error(dw, dw_ref) < 1e-6);
  }
}

TEST_CASE("Gemma's post-norm with its residual add, and the q/k norms as rows of one head") {
  const int N = 5, H = 64, d = 16;
  const Matrix branch = random_matrix(N, H, 5), residual = random_matrix(N, H, 6);
  const Vector w = random_matrix(H, 1, 7, 0.3f), w_head = random_matrix(d, 1, 8, 0.3f);
  Matrix out(N, H), normed(N, H);
  Vector r(N), r_ref(N);
  layers::rmsnorm_forward(branch, w, 1e-6f, normed, r_ref, 1.0f);
  for (int i = 0; i < N; ++i) r[i] = cu::post_norm_residual_row(lane, &branch(i, 0), w.data(), 1.0f, 1e-6f, H, &residual(i, 0), &out(i, 0));
  CHECK(relative_error(out, residual + normed) < 1e-6);
  CHECK(relative_error(r, r_ref) < 1e-6);

  // q [N, heads*d]: one row per (token, head), the weight shared by the heads
  Matrix y(N, H), y_ref(N, H);
  Vector rh(N * H / d), rh_ref(N * H / d);
  layers::head_rmsnorm_forward(branch, d, w_head, 1e-6f, y_ref, rh_ref, 1.0f);
  for (int row = 0; row < N * H / d; ++row)
    rh[row] = cu::rmsnorm_forward_row(lane, branch.data() + row * d, w_head.data(), 1.0f, 1e-6f, d, y.data() + row * d);
  CHECK(relative_error(y, y_ref) < 1e-6);
  CHECK(relative_error(rh, rh_ref) < 1e-6);
}

TEST_CASE("RoPE rows rotate as rope_apply, and the inverse rotation is its backward") {
  const int B = 2, T = 9, heads = 3, d = 16;
  const layers::RopeTable table(T, d, 10000.0);
  const Matrix x = random_matrix(B * T, heads * d, 9);
  for (const int direction : {+1, -1}) {
    Matrix ours = x, ref = x;
    layers::rope_apply(ref, T, table, direction);
    for (int r = 0; r < B * T; ++r)
      cu::rope_row(lane, &ours(r, 0), heads, d, &table.cos(r % T, 0), &table.sin(r % T, 0), direction);
    CHECK(relative_error(ours, ref) < 1e-6);
  }
  // bf16 storage: the rotation of the rounded values, rounded once
  std::vector<cu::Bf16> row(size_t(heads * d));
  for (int j = 0; j < heads * d; ++j) row[size_t(j)] = cu::to_bf16(x(T + 3, j));
  Matrix rounded(1, heads * d);
  for (int j = 0; j < heads * d; ++j) rounded(0, j) = cu::to_float(row[size_t(j)]);
  Matrix ref = rounded;
  const layers::RopeTable one(T, d, 10000.0);
  Matrix ref_rows = Matrix::Zero(T, heads * d);
  ref_rows.row(3) = ref.row(0);
  layers::rope_apply(ref_rows, T, one);
  cu::rope_row(lane, row.data(), heads, d, &one.cos(3, 0), &one.sin(3, 0), +1);
  for (int j = 0; j < heads * d; ++j) CHECK(cu::to_float(row[size_t(j)]) == doctest::Approx(ref_rows(3, j)).epsilon(8e-3));
}

TEST_CASE_TEMPLATE("gated activations: forward and backward as nn/mlp.hpp", Pair, std::pair<layers::Silu, cu::SiluGate>,
                   std::pair<layers::GeluTanh, cu::GeluTanhGate>) {
  using Cpu = typename Pair::first_type;
  using Gpu = typename Pair::second_type;
  const int N = 4, F = 301;
  Matrix gate = random_matrix(N, F, 10, 3.0f), up = random_matrix(N, F, 11), g = random_matrix(N, F, 12);
  gate(0, 0) = 40.0f;   // far out on both sides: 0 or 1 times z, no NaN
  gate(0, 1) = -40.0f;
  gate(0, 2) = 0.0f;
  Matrix act(N, F), act_ref(N, F), dg(N, F), du(N, F), dg_ref(N, F), du_ref(N, F);
  layers::gated_forward<Cpu>(gate, up, act_ref);
  layers::gated_backward<Cpu>(gate, up, g, dg_ref, du_ref);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < F; ++j) {
      act(i, j) = cu::gated_forward<Gpu>(gate(i, j), up(i, j));
      cu::gated_backward<Gpu>(gate(i, j), up(i, j), g(i, j), dg(i, j), du(i, j));
    }
  CHECK(relative_error(act, act_ref) < 1e-6);
  CHECK(relative_error(dg, dg_ref) < 1e-6);
  CHECK(relative_error(du, du_ref) < 1e-6);
}

TEST_CASE("soft-cap and its derivative from the output") {
  Matrix x = random_matrix(3, 50, 13, 40.0f), y = x, g = Matrix::Ones(3, 50);
  layers::softcap_forward(y, 30.0f);
  layers::softcap_backward(y, g, 30.0f);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 50; ++j) {
      CHECK(cu::softcap(x(i, j), 30.0f) == doctest::Approx(y(i, j)).epsilon(1e-6));
      CHECK(cu::softcap_derivative(y(i, j), 30.0f) == doctest::Approx(g(i, j)).epsilon(1e-5));
    }
  CHECK(cu::softcap(5.0f, 0.0f) == 5.0f);
  CHECK(cu::softcap_derivative(5.0f, 0.0f) == 1.0f);
}

TEST_CASE("embedding gather and the deterministic scatter-add by table row") {
  const int V = 11, H = 24;
  const TokenBatch batch = padded_batch({6, 4, 6}, 6, V, 14);   // 18 tokens over 11 ids: repeats
  const Matrix table = random_matrix(V, H, 15), dout = random_matrix(batch.tokens(), H, 16);
  for (const float scale : {1.0f, 8.0f}) {
    Matrix out(batch.tokens(), H), out_ref(batch.tokens(), H);
    layers::embedding_forward(batch, table, out_ref, scale);
    for (int n = 0; n < batch.tokens(); ++n) cu::embedding_gather_row(lane, &table(batch.ids[size_t(n)], 0), scale, H, &out(n, 0));
    CHECK(relative_error(out, out_ref) == 0);

    Matrix dt = random_matrix(V, H, 17), dt_ref = dt;
    layers::embedding_backward(batch, dout, dt_ref, scale);
    const cu::IdPositions p = cu::positions_of_ids(batch.ids.data(), batch.tokens(), V);
    REQUIRE(p.offsets.back() == batch.tokens());
    for (size_t r = 0; r < p.ids.size(); ++r)
      cu::embedding_scatter_row(lane, p.positions.data() + p.offsets[r], p.offsets[r + 1] - p.offsets[r], dout.data(), scale, H,
                                &dt(p.ids[r], 0));
    CHECK(relative_error(dt, dt_ref) < 1e-6);   // the same additions in the same order per element
  }
}

TEST_CASE("cross-entropy over vocabulary chunks with an online logsumexp: loss and gradient, with and without a soft-cap") {
  const int M = 6, V = 389;
  const Matrix raw = random_matrix(M, V, 18, 4.0f);
  const std::vector<int32_t> targets = {0, 388, 17, 200, 5, 300};
  for (const float cap : {0.0f, 30.0f}) {
    const std::optional<float> softcap = cap > 0 ? std::optional<float>(cap) : std::nullopt;
    Matrix grad_ref = raw;
    const double loss_ref = layers::cross_entropy(grad_ref, targets, 0.25f, true, softcap);
    for (const int chunk : {V, 64, 7}) {
      CAPTURE(cap);
      CAPTURE(chunk);
      Matrix grad = raw;
      double loss = 0;
      for (int i = 0; i < M; ++i) {
        cu::OnlineLogSumExp state;
        float z_target = 0;
        for (int c0 = 0; c0 < V; c0 += chunk)
          z_target += cu::cross_entropy_chunk(lane, &raw(i, c0), c0, std::min(chunk, V - c0), cap, targets[size_t(i)], state);
        loss += double(state.value()) - double(z_target);
        for (int c0 = 0; c0 < V; c0 += chunk)
          cu::cross_entropy_grad_chunk(lane, &grad(i, c0), c0, std::min(chunk, V - c0), cap, targets[size_t(i)], state.value(), 0.25f);
      }
      CHECK(loss == doctest::Approx(loss_ref).epsilon(1e-6));
      CHECK(relative_error(grad, grad_ref) < 1e-6);
    }
  }
}

TEST_CASE_TEMPLATE("pooling columns and their backward as nn/pooling.hpp", P, pool::Mean, pool::WeightedMean, pool::LastToken) {
  const int T = 7, H = 20;
  const TokenBatch batch = padded_batch({7, 3, 5}, T, 50, 19);
  const Matrix hidden = random_matrix(batch.tokens(), H, 20), dp = random_matrix(batch.batch, H, 21);
  const Matrix w = pool::pooling_weights<P>(batch);
  const Matrix ref = pool::pool_forward<P>(hidden, batch);
  Matrix pooled(batch.batch, H);
  for (int b = 0; b < batch.batch; ++b)
    for (int j = 0; j < H; ++j) pooled(b, j) = cu::pool_column(hidden.data(), w.data(), b, T, H, j);
  CHECK(relative_error(pooled, ref) < 1e-6);

  Matrix dh = random_matrix(batch.tokens(), H, 22), dh_ref = dh;
  pool::pool_backward<P>(dp, batch, dh_ref);
  for (int b = 0; b < batch.batch; ++b)
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < H; ++j) cu::pool_backward_element(w.data(), dp.data(), b, t, T, H, j, dh.data());
  CHECK(relative_error(dh, dh_ref) < 1e-6);
}

TEST_CASE("InfoNCE: the normalisation and loss rows, composed with the products, give nn/info_nce.hpp's loss and gradients") {
  const int B = 9, H = 32;
  const float tau = 0.05f;
  const Matrix a = random_matrix(B, H, 23), b = random_matrix(B, H, 24);
  Matrix da_ref = Matrix::Zero(B, H), db_ref = Matrix::Zero(B, H);
  const double loss_ref = layers::info_nce(a, b, tau, &da_ref, &db_ref);

  Matrix an(B, H), bn(B, H);
  Vector a_norm(B), b_norm(B);
  for (int i = 0; i < B; ++i) {
    a_norm[i] = cu::normalise_row(lane, &a(i, 0), H, &an(i, 0));
    b_norm[i] = cu::normalise_row(lane, &b(i, 0), H, &bn(i, 0));
  }
  Matrix S = an * bn.transpose() / tau;   // a GEMM on the device
  double loss = 0;
  for (int i = 0; i < B; ++i) loss += cu::info_nce_row(lane, &S(i, 0), B, i);
  loss /= B;
  const Matrix d_an = S * bn / tau, d_bn = S.transpose() * an / tau;   // GEMMs too
  Matrix da = Matrix::Zero(B, H), db = Matrix::Zero(B, H);
  for (int i = 0; i < B; ++i) {
    cu::normalise_backward_row(lane, &an(i, 0), a_norm[i], &d_an(i, 0), H, &da(i, 0));
    cu::normalise_backward_row(lane, &bn(i, 0), b_norm[i], &d_bn(i, 0), H, &db(i, 0));
  }
  CHECK(loss == doctest::Approx(loss_ref).epsilon(1e-5));
  CHECK(relative_error(da, da_ref) < 1e-5);
  CHECK(relative_error(db, db_ref) < 1e-5);
}

TEST_CASE("AdamW's element update is train::AdamW's, bit for bit, over several steps") {
  const size_t n = 1000;
  const Matrix p0 = random_matrix(Eigen::Index(n), 1, 25);
  std::vector<float> p_ref(p0.data(), p0.data() + n), p = p_ref, m(n, 0.0f), v(n, 0.0f);
  train::AdamWConfig config;
  config.weight_decay = 0.1f;
  train::AdamW cpu(config);
  for (int t = 1; t <= 4; ++t) {
    const Matrix g = random_matrix(Eigen::Index(n), 1, 26 + uint32_t(t));
    const float lr = 1e-3f * float(t);
    cpu.step(p_ref, std::span<const float>(g.data(), n), lr);
    const auto step = cu::AdamWStep::at(config.beta1, config.beta2, config.eps, config.weight_decay, lr, t);
    for (size_t i = 0; i < n; ++i) cu::adamw_update(p[i], g(Eigen::Index(i)), m[i], v[i], step);
  }
  for (size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    REQUIRE(p[i] == p_ref[i]);
    REQUIRE(m[i] == cpu.m()[i]);
    REQUIRE(v[i] == cpu.v()[i]);
  }
}

TEST_CASE("dropout masks are nn/dropout.hpp's, element for element") {
  const Dropout cpu{0.3f, 1234};
  for (const uint64_t stream : {attention_stream(0), attention_stream(5), lora_stream(2, 3)}) {
    const auto d = cu::DeviceDropout::of(cpu.p, cpu.seed, stream);
    for (uint64_t i = 0; i < 5000; ++i) REQUIRE(d.factor(i * 7919) == cpu.factor(stream, i * 7919));
  }
}

namespace {

struct AttentionCase {
  int heads, kv_heads;
  std::optional<int> window;
  std::optional<float> softcap;
  float dropout;
};

// Every query row of attention_row_forward (one lane) against layers::attention_forward<P>.
template <class P>
void check_attention(const AttentionCase& c) {
  const int T = 11, d = 16;
  const TokenBatch batch = padded_batch({11, 6, 9}, T, 50, 27);
  const Matrix q = random_matrix(batch.tokens(), c.heads * d, 28), k = random_matrix(batch.tokens(), c.kv_heads * d, 29),
               v = random_matrix(batch.tokens(), c.kv_heads * d, 30);
  const layers::AttentionShape shape{c.heads, c.kv_heads, d, c.window, 0.3f, c.softcap};
  const Dropout dropout{c.dropout, 99};
  Vector lse_ref(batch.batch * c.heads * T);
  Matrix out_ref(batch.tokens(), c.heads * d);
  layers::attention_forward<P>(q, k, v, batch, shape, lse_ref, out_ref, dropout, attention_stream(1));

  const cu::AttentionGeometry g{T, c.heads, c.kv_heads, d, 0.3f, c.softcap.value_or(0.0f)};
  const cu::AttentionMask mask{!P::sees(0, 1), P::honours_sliding_window && c.window ? *c.window : 0};
  const auto drop = cu::DeviceDropout::of(dropout.p, dropout.seed, attention_stream(1));
  Matrix out(batch.tokens(), c.heads * d);
  Vector lse(batch.batch * c.heads * T);
  for (int b = 0; b < batch.batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int i = 0; i < T; ++i)
        lse[(b * c.heads + h) * T + i] = cu::attention_row_forward<d>(lane, q.data(), k.data(), v.data(), batch.mask.data(), g, mask,
                                                                      drop, b, h, i, out.data());
  CHECK(relative_error(out, out_ref) < 1e-5);
  CHECK(relative_error(lse, lse_ref) < 1e-5);

  // backward from the CPU's forward: delta = dO . O (recomputed), dq a row per query, dk and dv a row per key
  const Matrix d_out = random_matrix(batch.tokens(), c.heads * d, 31);
  Matrix dq_ref(batch.tokens(), c.heads * d), dk_ref(batch.tokens(), c.kv_heads * d), dv_ref(batch.tokens(), c.kv_heads * d);
  layers::attention_backward<P>(q, k, v, out_ref, lse_ref, d_out, batch, shape, dq_ref, dk_ref, dv_ref, dropout, attention_stream(1));
  Vector delta(batch.batch * c.heads * T);
  const Vector delta_ref = (d_out.cwiseProduct(out_ref)).reshaped<Eigen::RowMajor>(batch.tokens() * c.heads, d).rowwise().sum();
  for (int b = 0; b < batch.batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int i = 0; i < T; ++i)
        delta[(b * c.heads + h) * T + i] = cu::attention_row_delta<d>(lane, q.data(), k.data(), v.data(), d_out.data(), lse_ref.data(),
                                                                      batch.mask.data(), g, mask, drop, b, h, i);
  for (int b = 0; b < batch.batch; ++b)   // delta_ref is [b, t, h]; delta [b, h, t]
    for (int h = 0; h < c.heads; ++h)
      for (int i = 0; i < T; ++i) CHECK(delta[(b * c.heads + h) * T + i] == doctest::Approx(delta_ref[(b * T + i) * c.heads + h]).epsilon(1e-4).scale(1.0));
  Matrix dq(batch.tokens(), c.heads * d), dk(batch.tokens(), c.kv_heads * d), dv(batch.tokens(), c.kv_heads * d);
  for (int b = 0; b < batch.batch; ++b) {
    for (int h = 0; h < c.heads; ++h)
      for (int i = 0; i < T; ++i)
        cu::attention_row_backward_query<d>(lane, q.data(), k.data(), v.data(), d_out.data(), lse_ref.data(), delta.data(),
                                            batch.mask.data(), g, mask, drop, b, h, i, dq.data());
    for (int kvh = 0; kvh < c.kv_heads; ++kvh)
      for (int j = 0; j < T; ++j)
        cu::attention_row_backward_key<d>(lane, q.data(), k.data(), v.data(), d_out.data(), lse_ref.data(), delta.data(),
                                          batch.mask.data(), g, mask, drop, b, kvh, j, dk.data(), dv.data());
  }
  CHECK(relative_error(dq, dq_ref) < 1e-5);
  CHECK(relative_error(dk, dk_ref) < 1e-5);
  CHECK(relative_error(dv, dv_ref) < 1e-5);
}

}  // namespace

TEST_CASE_TEMPLATE("attention rows, forward and backward: both policies, key padding, GQA, a window, a soft-cap and dropout", P, Causal, Bidirectional) {
  check_attention<P>({4, 2, std::nullopt, std::nullopt, 0.0f});
  check_attention<P>({4, 1, 4, std::nullopt, 0.0f});
  check_attention<P>({2, 2, 3, 50.0f, 0.0f});
  check_attention<P>({4, 2, std::nullopt, std::nullopt, 0.3f});
}

}  // namespace test_cuda_math
