// The bf16 compute path (backend/cpu/bf16_gemm.hpp, backend/projections.hpp) against the float32 one.
// - The kernel: y = x B with x and B rounded to bf16 first is what a float64 product of those rounded values
//   gives, to float32 accumulation (1e-5 relative), over shapes with every kind of edge (rows not a multiple
//   of 8, columns not a multiple of 48, an odd reduction) and in accumulating mode.
// - The models (mistral-dev, gemma2-dev, gemma3-dev fixtures; the same code for every architecture):
//   embeddings and logits from the bf16 path agree with the float32 path within kBf16Forward, the MNTP
//   gradients of every parameter and the LoRA MNTP gradients within kBf16Gradient (max |bf16 - f32| / max |f32|
//   per tensor). bf16 keeps 8 bits of mantissa (relative rounding 2^-9 = 2e-3 per operand); measured on the three
//   fixtures (2026-12-01): embeddings <= 5.9e-3, logits <= 1.4e-2, parameter gradients <= 2.4e-2, LoRA gradients
//   <= 2.7e-2 (gemma3-dev the worst). Each case prints its figures.
// The float32 path's parity with transformers is checked, unchanged, by test_forward_parity/test_train_parity.
#include <bg2vec/backend/projections.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

#include <random>

using namespace bg2vec;

namespace {

constexpr double kBf16Forward = 2e-2, kBf16Gradient = 5e-2;

float round_bf16(float v) { return bf16_to_f32(f32_to_bf16(v)); }

std::span<const float> span_of(const Matrix& m) { return {m.data(), size_t(m.size())}; }

}  // namespace

TEST_CASE("compute types: names, defaults and the refusal on a CPU without AVX512-BF16") {
  CHECK(backend::parse_compute("f32") == backend::Compute::F32);
  CHECK_THROWS_WITH_AS(backend::parse_compute("fp8"), doctest::Contains("unknown compute type 'fp8'"), Error);
  if (backend::cpu::has_avx512_bf16()) {
    CHECK(backend::parse_compute("bf16") == backend::Compute::Bf16);
    CHECK(backend::parse_compute("auto") == backend::Compute::Bf16);
  } else {
    CHECK_THROWS_WITH_AS(backend::parse_compute("bf16"), doctest::Contains("needs a CPU with AVX512-BF16"), Error);
    CHECK(backend::parse_compute("auto") == backend::Compute::F32);
  }
}

TEST_CASE("the bf16 kernel computes the product of the bf16-rounded operands, with float32 accumulation") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: kernel not tested"); return; }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case { int M, K, C; };
  // The last two take the blocked reduction (over 2048): x W^T with K = 4099, and dx = dy W with C = 2500.
  for (const Case s : {Case{1, 1, 1}, Case{3, 7, 5}, Case{8, 16, 48}, Case{13, 33, 50}, Case{19, 64, 97}, Case{64, 255, 144},
                       Case{130, 96, 200}, Case{21, 4099, 70}, Case{40, 40, 2500}}) {
    CAPTURE(s.M);
    CAPTURE(s.K);
    CAPTURE(s.C);
    Matrix x(s.M, s.K), w(s.C, s.K), y0(s.M, s.C);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < y0.size(); ++i) y0.data()[i] = normal(rng);
    Eigen::MatrixXd expected = x.unaryExpr(&round_bf16).cast<double>() * w.unaryExpr(&round_bf16).cast<double>().transpose();
    const auto packed = backend::cpu::PackedB::for_x_wt(w);
    Matrix y(s.M, s.C);
    backend::cpu::gemm_bf16(x, packed, y, /*accumulate=*/false);
    const double scale = expected.cwiseAbs().maxCoeff();
    CHECK((y.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
    Matrix acc = y0;                                       // y0 + x W^T
    backend::cpu::gemm_bf16(x, packed, acc, /*accumulate=*/true);
    CHECK((acc.cast<double>() - y0.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
    // dx = dy W: the other packing of the same weight.
    Matrix dy(s.M, s.C), dx(s.M, s.K);
    for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = normal(rng);
    backend::cpu::gemm_bf16(dy, backend::cpu::PackedB::for_x_w(w), dx, false);
    const Eigen::MatrixXd dx_expected = dy.unaryExpr(&round_bf16).cast<double>() * w.unaryExpr(&round_bf16).cast<double>();
    CHECK((dx.cast<double>() - dx_expected).cwiseAbs().maxCoeff() / dx_expected.cwiseAbs().maxCoeff() < 1e-5);
  }
  // Row blocks of a view with an outer stride (a slice of a wider matrix) are read and written in place.
  Matrix wide = Matrix::Zero(10, 40), w(24, 16);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
  Matrix x(10, 16);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  backend::cpu::gemm_bf16(x, backend::cpu::PackedB::for_x_wt(w), wide.middleCols(8, 24), false);
  CHECK(wide.leftCols(8).isZero());
  CHECK(wide.rightCols(8).isZero());
  const Eigen::MatrixXd expected = x.unaryExpr(&round_bf16).cast<double>() * w.unaryExpr(&round_bf16).cast<double>().transpose();
  CHECK((wide.middleCols(8, 24).cast<double>() - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff() < 1e-5);
  CHECK_THROWS(backend::cpu::gemm_bf16(x, backend::cpu::PackedB::for_x_w(w), wide.middleCols(8, 24), false));
}

TEST_CASE_TEMPLATE("bf16 embeddings and gradients agree with float32 within the bf16 tolerances", F, test::MistralDev,
                   test::Gemma2Dev, test::Gemma3Dev) {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: bf16 path not tested"); return; }
  const std::string name = F::name;
  const auto& reference = test::hf_reference(name);
  const Model model = load_model(test::fixture("hf/" + name));
  const TokenBatch batch = io::read_token_batch(reference);

  // Forward: mean-pooled bidirectional embeddings and the hidden states under both attentions.
  const backend::Projections bf16(model.weights(), backend::Compute::Bf16);
  CHECK(bf16.packed_bytes() > 0);
  const Matrix e32 = embed<Bidirectional, pool::Mean>(model, batch);
  const Matrix e16 = embed<Bidirectional, pool::Mean>(model, batch, nullptr, bf16);
  const double embed_err = test::relative_error(span_of(e16), span_of(e32));
  CHECK(embed_err < kBf16Forward);
  CHECK(embed_err > 0);                                   // the bf16 path did run
  Matrix l32, l16;
  embed<Causal, pool::LastToken>(model, batch, &l32);
  embed<Causal, pool::LastToken>(model, batch, &l16, bf16);
  const double logits_err = test::relative_error(span_of(l16), span_of(l32));
  CHECK(logits_err < kBf16Forward);

  // Backward: MNTP gradients of every parameter (the base trains), and of a LoRA adapter (the base frozen).
  train::TrainBatch mntp{batch, {}, {}};
  for (int64_t v : reference.read_int64("mntp_labels")) mntp.labels.push_back(int32_t(v));
  mntp.tokens.ids.clear();
  for (int64_t v : reference.read_int64("mntp_input_ids")) mntp.tokens.ids.push_back(int32_t(v));
  auto gradients = [&](backend::Compute compute, const LoraAdapter* lora) {
    const Decoder<Bidirectional> decoder(model, lora, backend::Projections(model.weights(), compute, /*for_training=*/true));
    std::vector<float> grad(lora ? lora->layout().total() : model.parameter_count(), 0.0f);
    std::optional<DecoderTensors> g;
    std::optional<LoraTensors> lg;
    train::StepContext ctx;
    if (lora) ctx.grads.lora = &lg.emplace(model.config(), lora->layout(), grad.data());
    else ctx.grads.base = &g.emplace(model.config(), model.layout(), grad.data());
    const double loss = train::Mntp{}(decoder, mntp, ctx);
    return std::pair{loss, grad};
  };
  const auto [loss32, grad32] = gradients(backend::Compute::F32, nullptr);
  const auto [loss16, grad16] = gradients(backend::Compute::Bf16, nullptr);
  CHECK(loss16 == doctest::Approx(loss32).epsilon(kBf16Gradient));
  double grad_err = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({grad16.data() + p.offset, p.size()}, {grad32.data() + p.offset, p.size()});
    CHECK(err < kBf16Gradient);
    grad_err = std::max(grad_err, err);
  }
  const LoraAdapter adapter = peft::load_adapter(test::fixture("hf/" + name) / "lora", model.config());
  const auto [lloss32, lgrad32] = gradients(backend::Compute::F32, &adapter);
  const auto [lloss16, lgrad16] = gradients(backend::Compute::Bf16, &adapter);
  CHECK(lloss16 == doctest::Approx(lloss32).epsilon(kBf16Gradient));
  double lora_err = 0;
  for (const auto& t : adapter.layout().tensors()) {
    CAPTURE(t.name);
    const double err = test::relative_error({lgrad16.data() + t.offset, t.size()}, {lgrad32.data() + t.offset, t.size()});
    CHECK(err < kBf16Gradient);
    lora_err = std::max(lora_err, err);
  }
  MESSAGE(name << " bf16 vs f32 (max |diff| / max |f32|): embeddings " << embed_err << ", logits " << logits_err
               << ", MNTP loss " << loss16 << " vs " << loss32 << ", worst parameter gradient " << grad_err
               << ", worst LoRA gradient " << lora_err);
}

TEST_CASE("the lm_head's cross-entropy in bf16: loss and d_hidden within the bf16 tolerances of float32, its copies counted") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  // A vocabulary wide enough for many panels, three chunks of predictions, a tall reduction for dh = dZ W.
  const Eigen::Index V = 5003, H = 96, N = 300;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Matrix W(V, H), hidden(N, H);
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = 0.1f * normal(rng);
  for (Eigen::Index i = 0; i < hidden.size(); ++i) hidden.data()[i] = normal(rng);
  std::vector<layers::Prediction> predictions;
  for (Eigen::Index i = 0; i < N; i += 2) predictions.push_back({i, int32_t((i * 7919) % V)});
  const Model model = load_model(test::fixture("hf/mistral-dev"));   // its projections; the lm_head is W, passed in
  auto run = [&](const backend::Projections& products, Matrix& dh) {
    dh = Matrix::Zero(N, H);
    Eigen::Ref<Matrix> ref(dh);
    return layers::lm_head_cross_entropy(hidden, W, predictions, 1.0f / float(predictions.size()), &ref, nullptr,
                                         std::nullopt, /*chunk=*/64, products);
  };
  Matrix dh32, dh16;
  const double loss32 = run(backend::Projections(), dh32);
  const backend::Projections bf16(model.weights(), backend::Compute::Bf16, /*for_training=*/true);
  const size_t layers_bytes = bf16.packed_bytes();         // the lm_head's copies are made on first use
  const double loss16 = run(bf16, dh16);
  CHECK(bf16.packed_bytes() >= layers_bytes + size_t(2 * 2 * V * H));   // W^T and W, 2 bytes a weight
  const double dh_err = test::relative_error(span_of(dh16), span_of(dh32));
  MESSAGE("lm_head cross-entropy bf16 vs f32: loss " << loss16 << " vs " << loss32 << ", d_hidden " << dh_err);
  CHECK(loss16 == doctest::Approx(loss32).epsilon(kBf16Forward));
  CHECK(dh_err < kBf16Gradient);
  CHECK(dh_err > 0);                                      // the bf16 path did run
  // Without for_training, dh = dZ W stays float32 (only the logits are bf16).
  Matrix dh_mixed;
  run(backend::Projections(model.weights(), backend::Compute::Bf16), dh_mixed);
  CHECK(test::relative_error(span_of(dh_mixed), span_of(dh32)) < kBf16Gradient);
}

TEST_CASE("a bf16 trainer repacks the base weights after each step, so its forward sees the updated weights") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  const auto& reference = test::hf_reference("mistral-dev");
  Model model = load_model(test::fixture("hf/mistral-dev"));
  train::TrainBatch b{io::read_token_batch(reference), {}, {}};
  train::TrainerOptions opts;
  opts.optimizer = "sgd";
  opts.compute = backend::Compute::Bf16;
  train::Trainer<train::Ntp> trainer(model, train::Ntp{}, opts);
  const double before = trainer.step(b, 0.5f);
  const double after = trainer.evaluate(b);
  Model fresh(model);                                     // the updated float32 weights, packed anew
  train::Trainer<train::Ntp> check(fresh, train::Ntp{}, opts);
  CHECK(after < before);
  CHECK(after == doctest::Approx(check.evaluate(b)).epsilon(1e-6));
}

TEST_CASE("bg2vec encode --compute: bf16 within the bf16 tolerance of transformers, f32 at float32 parity, bad names refused") {
  test::TempDir dir("backend-bf16-cli");
  const std::string model = test::fixture("hf/mistral-dev").string(), batch = model + "/reference.safetensors";
  const io::SafetensorsFile reference(batch);
  const auto out = (dir / "e.safetensors").string();
  const std::string base = "encode --model " + model + " --ids " + batch + " --attention bidirectional --pooling mean --out " + out;
  test::CliRun r = test::run_cli(base + " --compute f32", dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(test::relative_error(io::SafetensorsFile(out).read_float32("embeddings"), reference.read_float32("bidir_mean_pool")) < 1e-4);
  r = test::run_cli(base + " --compute fp8", dir);
  CHECK(r.status != 0);
  CHECK(r.output.find("unknown compute type 'fp8'") != std::string::npos);
  r = test::run_cli(base + " --compute bf16", dir);
  if (!backend::cpu::has_avx512_bf16()) {
    CHECK(r.status != 0);
    CHECK(r.output.find("needs a CPU with AVX512-BF16") != std::string::npos);
    return;
  }
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const double err = test::relative_error(io::SafetensorsFile(out).read_float32("embeddings"), reference.read_float32("bidir_mean_pool"));
  CHECK(err < kBf16Forward);
  CHECK(err > 1e-5);                                      // bf16 did run
}
