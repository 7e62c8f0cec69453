// Finite-difference checks of every layer's backward on small random shapes. Each layer's output y is
// reduced to L = sum(R * y) with a fixed random R, so dL/dy = R feeds the backward; central differences
// of L (accumulated in double, step 1e-2 in float32 inputs) must agree with the analytic gradient to 1%
// of its largest value.
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

#include <functional>
#include <random>

namespace test_train_layers {

using namespace bg2vec;

namespace {

constexpr double kStep = 1e-2, kTolerance = 1e-2;

using test::random_matrix;

double dot(const Eigen::Ref<const Matrix>& a, const Eigen::Ref<const Matrix>& b) {
  return a.cast<double>().cwiseProduct(b.cast<double>()).sum();
}

// max |numeric - analytic| / max |analytic| over the elements of `x` (all of them: the shapes are small).
double fd_error(float* x, size_t n, const float* analytic, const std::function<double()>& loss) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    const float saved = x[i];
    x[i] = saved + float(kStep);
    const double up = loss();
    x[i] = saved - float(kStep);
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * kStep);
    diff = std::max(diff, std::abs(numeric - analytic[i]));
    scale = std::max(scale, std::abs(double(analytic[i])));
  }
  REQUIRE(scale > 0);   // a zero gradient would make the check vacuous
  return diff / scale;
}
double fd_error(Matrix& x, const Matrix& analytic, const std::function<double()>& loss) {
  return fd_error(x.data(), size_t(x.size()), analytic.data(), loss);
}

TokenBatch small_batch(int B, int T, int vocab, uint64_t seed) {
  TokenBatch b;
  b.batch = B;
  b.seq_len = T;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < B; ++i)
    for (int t = 0; t < T; ++t) {
      const bool real = t < T - i;                     // row i has i pads at the end
      b.ids.push_back(real ? int32_t(1 + rng() % uint64_t(vocab - 1)) : 0);
      b.mask.push_back(real);
    }
  return b;
}

}  // namespace

TEST_CASE("rmsnorm backward: input and weight, with weight offset 0 (Llama) and 1 (Gemma-2)") {
  for (float offset : {0.0f, 1.0f}) {
    CAPTURE(offset);
    Matrix x = random_matrix(5, 8, 1), w = random_matrix(8, 1, 2), R = random_matrix(5, 8, 3);
    auto loss = [&] {
      Matrix y(5, 8);
      Vector rstd(5);
      layers::rmsnorm_forward(x, Vector(w), 1e-5f, y, rstd, offset);
      return dot(y, R);
    };
    Matrix y(5, 8), dx = Matrix::Zero(5, 8);
    Vector rstd(5), dw = Vector::Zero(8);
    layers::rmsnorm_forward(x, Vector(w), 1e-5f, y, rstd, offset);
    layers::rmsnorm_backward(x, Vector(w), rstd, R, dx, offset);
    layers::rmsnorm_backward_weight(x, rstd, R, dw);
    CHECK(fd_error(x, dx, loss) < kTolerance);
    CHECK(fd_error(w, Matrix(dw), loss) < kTolerance);
  }
}

TEST_CASE("per-head rmsnorm backward (Gemma-3's q_norm, k_norm): input and the shared weight, offset 1") {
  const int N = 5, heads = 3, d = 4;
  Matrix x = random_matrix(N, heads * d, 1), w = random_matrix(d, 1, 2, 0.3f), R = random_matrix(N, heads * d, 3);
  auto loss = [&] {
    Matrix y(N, heads * d);
    Vector rstd(N * heads);
    layers::head_rmsnorm_forward(x, d, Vector(w), 1e-6f, y, rstd, 1.0f);
    return dot(y, R);
  };
  Matrix y(N, heads * d), dx = Matrix::Zero(N, heads * d);
  Vector rstd(N * heads), dw = Vector::Zero(d);
  layers::head_rmsnorm_forward(x, d, Vector(w), 1e-6f, y, rstd, 1.0f);
  // each head of each row has unit rms before the weight: heads are normalised on their own
  Matrix plain(N, heads * d);
  layers::head_rmsnorm_forward(x, d, Vector(Vector::Zero(d)), 0.0f, plain, rstd, 1.0f);
  for (int h = 0; h < heads; ++h) CHECK(plain.block(2, h * d, 1, d).squaredNorm() / d == doctest::Approx(1.0).epsilon(1e-5));
  layers::head_rmsnorm_forward(x, d, Vector(w), 1e-6f, y, rstd, 1.0f);
  layers::head_rmsnorm_backward(x, d, Vector(w), rstd, R, dx, 1.0f);
  layers::head_rmsnorm_backward_weight(x, d, rstd, R, dw);
  CHECK(fd_error(x, dx, loss) < kTolerance);
  CHECK(fd_error(w, Matrix(dw), loss) < kTolerance);
}

TEST_CASE("linear and the gated activations (SwiGLU, GeGLU) backward") {
  Matrix x = random_matrix(4, 6, 1), W = random_matrix(5, 6, 2), R = random_matrix(4, 5, 3);
  auto linear_loss = [&] { Matrix y(4, 5); layers::linear_forward(x, W, y); return dot(y, R); };
  Matrix dx(4, 6), dW = Matrix::Zero(5, 6);
  layers::linear_backward(R, W, dx, false);
  layers::linear_backward_weight(x, R, dW);
  CHECK(fd_error(x, dx, linear_loss) < kTolerance);
  CHECK(fd_error(W, dW, linear_loss) < kTolerance);

  Matrix g = random_matrix(4, 7, 4, 2.0f), u = random_matrix(4, 7, 5), Ra = random_matrix(4, 7, 6);
  auto swiglu_loss = [&] { Matrix a(4, 7); layers::gated_forward<layers::Silu>(g, u, a); return dot(a, Ra); };
  Matrix dg(4, 7), du(4, 7);
  layers::gated_backward<layers::Silu>(g, u, Ra, dg, du);
  CHECK(fd_error(g, dg, swiglu_loss) < kTolerance);
  CHECK(fd_error(u, du, swiglu_loss) < kTolerance);

  auto geglu_loss = [&] { Matrix a(4, 7); layers::gated_forward<layers::GeluTanh>(g, u, a); return dot(a, Ra); };
  layers::gated_backward<layers::GeluTanh>(g, u, Ra, dg, du);
  CHECK(fd_error(g, dg, geglu_loss) < kTolerance);
  CHECK(fd_error(u, du, geglu_loss) < kTolerance);
  CHECK(layers::GeluTanh::value(1.0f) == doctest::Approx(0.8411920071).epsilon(1e-6));   // torch's gelu(1, "tanh")
}

TEST_CASE("rope backward is the inverse rotation") {
  const int T = 5, d = 8;
  const layers::RopeTable rope(T, d, 10000.0);
  Matrix x = random_matrix(2 * T, 2 * d, 1), R = random_matrix(2 * T, 2 * d, 2);
  auto loss = [&] { Matrix y = x; layers::rope_apply(y, T, rope); return dot(y, R); };
  Matrix dx = R;
  layers::rope_backward(dx, T, rope);
  CHECK(fd_error(x, dx, loss) < kTolerance);
}

TEST_CASE_TEMPLATE("attention backward (GQA, padding, with and without dropout; Gemma-2's scale, soft-cap, window)", Attn,
                   Causal, Bidirectional) {
  const int B = 2, T = 5, heads = 4, kv = 2, d = 4;
  const TokenBatch batch = small_batch(B, T, 10, 7);
  const layers::AttentionShape plain{heads, kv, d, std::nullopt, std::nullopt, std::nullopt}, gemma{heads, kv, d, 2, 0.7f, 1.5f};   // cap < |scores|
  for (const auto& shape : {plain, gemma})
  for (float p : {0.0f, 0.3f}) {
    CAPTURE(p);
    CAPTURE(shape.softcap.has_value());
    const Dropout dropout{p, 99};
    Matrix q = random_matrix(B * T, heads * d, 1), k = random_matrix(B * T, kv * d, 2), v = random_matrix(B * T, kv * d, 3);
    const Matrix R = random_matrix(B * T, heads * d, 4);
    Vector lse(B * heads * T);
    Matrix out(B * T, heads * d);
    auto loss = [&] {
      layers::attention_forward<Attn>(q, k, v, batch, shape, lse, out, dropout, 5);
      return dot(out, R);
    };
    loss();
    Matrix dq(B * T, heads * d), dk(B * T, kv * d), dv(B * T, kv * d);
    layers::attention_backward<Attn>(q, k, v, out, lse, R, batch, shape, dq, dk, dv, dropout, 5);
    CHECK(fd_error(q, dq, loss) < kTolerance);
    CHECK(fd_error(k, dk, loss) < kTolerance);
    CHECK(fd_error(v, dv, loss) < kTolerance);
  }
}

TEST_CASE("embedding, pooling, lm_head cross-entropy and InfoNCE backward") {
  const TokenBatch batch = small_batch(3, 4, 6, 11);
  Matrix table = random_matrix(6, 5, 1), R = random_matrix(12, 5, 2);
  auto embed_loss = [&] { Matrix y(12, 5); layers::embedding_forward(batch, table, y, 2.5f); return dot(y, R); };
  Matrix dtable = Matrix::Zero(6, 5);
  layers::embedding_backward(batch, R, dtable, 2.5f);   // Gemma-2's sqrt(hidden) scale
  CHECK(fd_error(table, dtable, embed_loss) < kTolerance);

  Matrix h = random_matrix(12, 5, 3), Rp = random_matrix(3, 5, 4);
  auto pool_loss = [&] { return dot(pool::pool_forward<pool::WeightedMean>(h, batch), Rp); };
  Matrix dh = Matrix::Zero(12, 5);
  pool::pool_backward<pool::WeightedMean>(Rp, batch, dh);
  CHECK(fd_error(h, dh, pool_loss) < kTolerance);

  Matrix W = random_matrix(7, 5, 5);
  const std::vector<layers::Prediction> preds = {{0, 3}, {4, 6}, {5, 0}, {11, 3}};
  auto ce_loss = [&] { return layers::lm_head_cross_entropy(h, W, preds, 0, nullptr, nullptr); };
  Matrix dh2 = Matrix::Zero(12, 5), dW = Matrix::Zero(7, 5);
  Eigen::Ref<Matrix> dh_ref(dh2);
  MatrixView dW_view(dW.data(), 7, 5);
  layers::lm_head_cross_entropy(h, W, preds, 1.0f, &dh_ref, &dW_view, std::nullopt, /*chunk=*/3);   // chunked like big vocabularies
  CHECK(fd_error(h, dh2, ce_loss) < kTolerance);
  CHECK(fd_error(W, dW, ce_loss) < kTolerance);

  // Gemma-2's final soft-cap inside the fused loss (cap below the logits' range, so it bends them)
  auto capped_loss = [&] { return layers::lm_head_cross_entropy(h, W, preds, 0, nullptr, nullptr, 1.5f); };
  dh2.setZero();
  dW.setZero();
  layers::lm_head_cross_entropy(h, W, preds, 1.0f, &dh_ref, &dW_view, 1.5f, /*chunk=*/3);
  CHECK(fd_error(h, dh2, capped_loss) < kTolerance);
  CHECK(fd_error(W, dW, capped_loss) < kTolerance);

  Matrix a = random_matrix(4, 6, 6), b = random_matrix(4, 6, 7);
  auto nce_loss = [&] { return layers::info_nce(a, b, 0.5f); };
  Matrix da = Matrix::Zero(4, 6), db = Matrix::Zero(4, 6);
  layers::info_nce(a, b, 0.5f, &da, &db);
  CHECK(fd_error(a, da, nce_loss) < kTolerance);
  CHECK(fd_error(b, db, nce_loss) < kTolerance);
}

TEST_CASE("LoRA backward: input, A and B, with dropout") {
  io::ModelConfig c;
  c.hidden_size = 6; c.intermediate_size = 8; c.num_layers = 1; c.num_heads = 2; c.num_kv_heads = 1; c.head_dim = 2;
  c.architecture = "MistralForCausalLM";
  LoraAdapter adapter(c, LoraConfig{3, 6, 0.25f, {"q_proj"}});
  adapter.initialise(1);
  std::mt19937_64 rng(2);
  for (float& x : adapter.parameters()) x += 0.1f * float(rng() % 100) / 100.0f;   // B non-zero
  LoraTensors::Pair* p = adapter.tensors().find(0, kQ);
  REQUIRE(p != nullptr);
  const Dropout dropout{0.25f, 3};
  Matrix x = random_matrix(5, 6, 4), R = random_matrix(5, 4, 5);
  auto loss = [&] { Matrix y = Matrix::Zero(5, 4); layers::lora_forward(x, *p, 2.0f, dropout, 9, y); return dot(y, R); };
  std::vector<float> grad(adapter.layout().total(), 0.0f);
  LoraTensors g(c, adapter.layout(), grad.data());
  Matrix dx = Matrix::Zero(5, 6);
  layers::lora_backward(x, *p, 2.0f, dropout, 9, R, dx, g.find(0, kQ));
  CHECK(fd_error(x, dx, loss) < kTolerance);
  CHECK(fd_error(p->A.data(), size_t(p->A.size()), g.find(0, kQ)->A.data(), loss) < kTolerance);
  CHECK(fd_error(p->B.data(), size_t(p->B.size()), g.find(0, kQ)->B.data(), loss) < kTolerance);
}

TEST_CASE("LoRA over several row blocks (and threads) gives the whole-matrix formulas, with and without dropout") {
  io::ModelConfig c;
  c.hidden_size = 6; c.intermediate_size = 8; c.num_layers = 1; c.num_heads = 2; c.num_kv_heads = 1; c.head_dim = 2;
  c.architecture = "MistralForCausalLM";
  LoraAdapter adapter(c, LoraConfig{3, 6, 0.25f, {"q_proj"}});
  adapter.initialise(1);
  std::mt19937_64 rng(2);
  for (float& x : adapter.parameters()) x += 0.1f * float(rng() % 100) / 100.0f;
  const LoraTensors::Pair& w = *adapter.tensors().find(0, kQ);
  const Eigen::Index N = 2 * layers::kLoraRowBlock + 44;   // three blocks, the last one short
  const Matrix x = random_matrix(N, 6, 4), dy = random_matrix(N, 4, 5);
  const float s = 2.0f;
  for (const float p : {0.0f, 0.25f}) {
    CAPTURE(p);
    const Dropout dropout{p, 3};
    Matrix mask(N, 6);
    for (Eigen::Index i = 0; i < mask.size(); ++i) mask.data()[i] = dropout.active() ? dropout.factor(9, uint64_t(i)) : 1.0f;
    const Matrix xd = x.cwiseProduct(mask), du = s * (dy * w.B);
    const Matrix y_ref = s * (xd * w.A.transpose()) * w.B.transpose();
    const Matrix dA_ref = du.transpose() * xd, dB_ref = s * (dy.transpose() * (xd * w.A.transpose()));
    const Matrix dx_ref = (du * w.A).cwiseProduct(mask);
    Matrix y = Matrix::Zero(N, 4), dx = Matrix::Zero(N, 6);
    layers::lora_forward(x, w, s, dropout, 9, y);
    std::vector<float> grad(adapter.layout().total(), 0.0f);
    LoraTensors g(c, adapter.layout(), grad.data());
    layers::lora_backward(x, w, s, dropout, 9, dy, dx, g.find(0, kQ));
    auto close = [](const auto& a, const auto& b) { return (a - b).cwiseAbs().maxCoeff() <= 1e-5 * b.cwiseAbs().maxCoeff(); };
    CHECK(close(y, y_ref));
    CHECK(close(dx, dx_ref));
    CHECK(close(g.find(0, kQ)->A, dA_ref));
    CHECK(close(g.find(0, kQ)->B, dB_ref));
  }
}

TEST_CASE_TEMPLATE("activation checkpointing gives the same gradients as keeping every layer", F, test::MistralDev,
                   test::Gemma2Dev, test::Gemma3Dev) {
  Model model = load_model(test::fixture(std::string("hf/") + F::name));
  const TokenBatch tokens = small_batch(2, 9, model.config().vocab_size, 3);
  const Decoder<Causal> decoder(model);
  auto grads_with = [&](ActivationMemory memory) {
    std::vector<float> grad(model.parameter_count(), 0.0f);
    DecoderTensors g(model.config(), model.layout(), grad.data());
    train::StepContext ctx;
    ctx.grads.base = &g;
    ctx.memory = memory;
    train::Ntp{}(decoder, {tokens, {}, {}}, ctx);
    return grad;
  };
  const auto all = grads_with(ActivationMemory::AllLayers), recomputed = grads_with(ActivationMemory::LayerInputs);
  CHECK(test::relative_error(recomputed, all) == 0.0);
  CHECK(Activations(model.config(), 8, 64, ActivationMemory::LayerInputs).bytes() <
        Activations(model.config(), 8, 64, ActivationMemory::AllLayers).bytes());
}

}  // namespace test_train_layers
