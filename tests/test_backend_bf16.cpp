// The bf16 compute path (backend/cpu/bf16_gemm.hpp, bf16_tiles.hpp, nn/projections.hpp) against the float32 one.
// - The kernel: y = x B with x and B rounded to bf16 first is what a float64 product of those rounded values
//   gives, to float32 accumulation (1e-5 relative), over shapes with every kind of edge (rows not a multiple
//   of 8, columns not a multiple of 48, an odd reduction) and in accumulating mode.
// - The models (mistral-dev, gemma2-dev, gemma3-dev fixtures; the same code for every architecture):
//   embeddings and logits from the bf16 path agree with the float32 path within kBf16Forward, the MNTP
//   gradients of every parameter and the LoRA MNTP gradients within kBf16Gradient (max |bf16 - f32| / max |f32|
//   per tensor). bf16 keeps 8 bits of mantissa (relative rounding 2^-9 = 2e-3 per operand); measured on the three
//   fixtures (2026-12-02, attention's tile products in bf16 too): embeddings <= 6.2e-3, logits <= 1.3e-2, parameter
//   gradients <= 3.1e-2, LoRA gradients <= 2.8e-2 (gemma3-dev the worst). Each case prints its figures.
// The float32 path's parity with transformers is checked, unchanged, by test_forward_parity/test_train_parity.
#include <bg2vec/backend/cpu/bf16_tiles.hpp>
#include <bg2vec/nn/projections.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

#include <cstring>
#include <random>

namespace test_backend_bf16 {

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
  // dW (+)= dy^T x, a weight gradient: reduced over the rows (odd counts, the blocked reduction past 2048 rows).
  for (const Case s : {Case{1, 1, 1}, Case{7, 5, 3}, Case{33, 17, 50}, Case{130, 64, 97}, Case{4099, 20, 49}}) {
    CAPTURE(s.M);
    CAPTURE(s.K);
    CAPTURE(s.C);
    Matrix dy(s.M, s.K), x(s.M, s.C), dw0(s.K, s.C);
    for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < dw0.size(); ++i) dw0.data()[i] = normal(rng);
    const Eigen::MatrixXd expected = dy.unaryExpr(&round_bf16).cast<double>().transpose() * x.unaryExpr(&round_bf16).cast<double>();
    const double scale = expected.cwiseAbs().maxCoeff();
    Matrix dw = dw0;
    backend::cpu::gemm_bf16_at_b(dy, x, dw, /*accumulate=*/true);
    CHECK((dw.cast<double>() - dw0.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
    backend::cpu::gemm_bf16_at_b(dy, x, dw, /*accumulate=*/false);
    CHECK((dw.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
  }
  // ... from views with outer strides, as the decoder passes column slices.
  {
    Matrix wide_dy(40, 30), wide_x(40, 70), dw = Matrix::Zero(12, 50);
    for (Eigen::Index i = 0; i < wide_dy.size(); ++i) wide_dy.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < wide_x.size(); ++i) wide_x.data()[i] = normal(rng);
    backend::cpu::gemm_bf16_at_b(wide_dy.middleCols(5, 12), wide_x.middleCols(10, 50), dw, false);
    const Eigen::MatrixXd expected = wide_dy.middleCols(5, 12).unaryExpr(&round_bf16).cast<double>().transpose() *
                                     wide_x.middleCols(10, 50).unaryExpr(&round_bf16).cast<double>();
    CHECK((dw.cast<double>() - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff() < 1e-5);
    CHECK_THROWS(backend::cpu::gemm_bf16_at_b(wide_dy, wide_x, dw, false));
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

TEST_CASE("the vectorised packers lay out B as the element-by-element definition does") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Rows and columns around the panel width (48), the conversion width (16) and the transposer's block (256 pairs).
  for (const auto [rows, cols] : {std::pair{1, 1}, {3, 5}, {48, 16}, {50, 33}, {97, 130}, {17, 513}, {200, 1031}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    Matrix w(rows, cols);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
    const auto same = [](const backend::cpu::PackedB& a, const backend::cpu::PackedB& b) {
      return a.bytes() == b.bytes() && a.K() == b.K() && a.C() == b.C() &&
             std::memcmp(a.panel(0), b.panel(0), a.bytes()) == 0;
    };
    CHECK(same(backend::cpu::PackedB::for_x_wt(w),
               backend::cpu::PackedB(w.cols(), w.rows(), [&](int64_t k, int64_t c) { return w(c, k); })));
    CHECK(same(backend::cpu::PackedB::for_x_w(w),
               backend::cpu::PackedB(w.rows(), w.cols(), [&](int64_t k, int64_t c) { return w(k, c); })));
  }
}

TEST_CASE("attention's tile products: the pair-word layouts as defined, C (+)= s A B as the float64 product of the rounded operands") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  namespace cpu = backend::cpu;
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto random = [&](int r, int c) {
    Matrix m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
  };
  const auto half = [](uint32_t word, int which) { return bf16_to_f32(uint16_t(which ? word >> 16 : word & 0xffff)); };
  // Odd lengths (a zero half), the conversion width (16) and past it.
  for (const auto [rows, cols] : {std::pair{1, 1}, {3, 5}, {16, 16}, {17, 33}, {64, 64}}) {
    CAPTURE(rows);
    CAPTURE(cols);
    const Matrix x = random(rows, cols);
    const int row_words = (cols + 1) / 2, pair_rows = (rows + 1) / 2;
    std::vector<uint32_t> by_rows(size_t(rows * row_words)), by_columns(size_t(pair_rows * cols)), back(by_rows.size());
    cpu::pair_rows(x.data(), x.outerStride(), rows, cols, by_rows.data(), row_words);
    cpu::pair_columns(x.data(), x.outerStride(), rows, cols, by_columns.data(), cols);
    bool rows_ok = true, columns_ok = true;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols + cols % 2; ++c)
        rows_ok = rows_ok && half(by_rows[size_t(r * row_words + c / 2)], c % 2) == (c < cols ? round_bf16(x(r, c)) : 0.0f);
    for (int r = 0; r < rows + rows % 2; ++r)
      for (int c = 0; c < cols; ++c)
        columns_ok = columns_ok && half(by_columns[size_t((r / 2) * cols + c)], r % 2) == (r < rows ? round_bf16(x(r, c)) : 0.0f);
    CHECK(rows_ok);
    CHECK(columns_ok);
    std::vector<uint32_t> transposed(by_rows.size());
    cpu::transpose_words(by_rows.data(), row_words, rows, row_words, transposed.data(), rows);
    cpu::transpose_words(transposed.data(), rows, row_words, rows, back.data(), row_words);
    CHECK(back == by_rows);
    CHECK(transposed[size_t(rows - 1)] == by_rows[size_t((rows - 1) * row_words)]);
  }
  // M around the micro-kernel's 6 rows, N around its 64 columns (16 per register), odd reductions.
  for (const int M : {1, 5, 6, 7, 64})
    for (const int N : {1, 15, 17, 64, 65, 130})
      for (const int K : {1, 2, 3, 64, 129}) {
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(K);
        const Matrix a = random(M, K), b = random(K, N), c0 = random(M, N);
        const int pairs = (K + 1) / 2;
        std::vector<uint32_t> A(size_t(M * pairs)), B(size_t(pairs * N));
        cpu::pair_rows(a.data(), a.outerStride(), M, K, A.data(), pairs);
        cpu::pair_columns(b.data(), b.outerStride(), K, N, B.data(), N);
        const Eigen::MatrixXd expected = 0.7 * (a.unaryExpr(&round_bf16).cast<double>() * b.unaryExpr(&round_bf16).cast<double>());
        const double scale = expected.cwiseAbs().maxCoeff();
        Matrix c = c0;
        cpu::tile_gemm(A.data(), pairs, B.data(), N, M, N, pairs, 0.7f, c.data(), c.outerStride(), /*accumulate=*/true);
        CHECK((c.cast<double>() - c0.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
        cpu::tile_gemm(A.data(), pairs, B.data(), N, M, N, pairs, 0.7f, c.data(), c.outerStride(), /*accumulate=*/false);
        CHECK((c.cast<double>() - expected).cwiseAbs().maxCoeff() / scale < 1e-5);
      }
}

TEST_CASE_TEMPLATE("bf16 embeddings and gradients agree with float32 within the bf16 tolerances", F, test::MistralDev,
                   test::Gemma2Dev, test::Gemma3Dev) {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: bf16 path not tested"); return; }
  const std::string name = F::name;
  const auto& reference = test::hf_reference(name);
  const Model model = load_model(test::fixture("hf/" + name));
  const TokenBatch batch = io::read_token_batch(reference);

  // Forward: mean-pooled bidirectional embeddings and the hidden states under both attentions.
  const Projections bf16(model.weights(), backend::Compute::Bf16);
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
    const Decoder<Bidirectional> decoder(model, lora, Projections(model.weights(), compute, /*for_training=*/true));
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

TEST_CASE_TEMPLATE("a model loaded for bf16 encoding keeps no float32 projections and encodes as the full model's bf16 path",
                   F, test::MistralDev, test::Gemma2Dev, test::Gemma3Dev) {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  const std::string name = F::name;
  const TokenBatch batch = io::read_token_batch(test::hf_reference(name));
  const Model full = load_model(test::fixture("hf/" + name));
  const InferenceModel lean = load_for_inference(test::fixture("hf/" + name), backend::Compute::Bf16);
  double projection_floats = 0;
  for (const auto& layer : full.weights().layers)
    for (const MatrixView* w : {&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down})
      projection_floats += double(w->size());
  CHECK(double(lean.model->parameter_count()) == double(full.parameter_count()) - projection_floats);
  CHECK_FALSE(lean.model->weights().has_projection_weights());
  // What stays in the buffer is read as before.
  for (const auto& p : lean.model->layout().tensors()) {
    CAPTURE(p.name);
    const auto a = lean.model->parameter(p.name), b = full.parameter(p.name);
    CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
  // The same bf16 copies, so the same embeddings and logits, bit for bit.
  const Projections packed_from_full(full.weights(), backend::Compute::Bf16);
  CHECK(lean.projections.packed_bytes() == packed_from_full.packed_bytes());
  Matrix l_full, l_lean;
  const Matrix e_full = embed<Bidirectional, pool::Mean>(full, batch, &l_full, packed_from_full);
  const Matrix e_lean = embed<Bidirectional, pool::Mean>(*lean.model, batch, &l_lean, lean.projections);
  CHECK(e_lean == e_full);
  CHECK(l_lean == l_full);
  // What needs the float32 projections says so.
  const auto needs = doctest::Contains("in bf16 only");
  CHECK_THROWS_WITH_AS(Decoder<Bidirectional>(*lean.model), needs, Error);
  CHECK_THROWS_WITH_AS(save_model(*lean.model, test::TempDir("lean-save").path / "m"), needs, Error);
  Model copy(*lean.model);
  train::TrainerOptions opts;
  opts.compute = backend::Compute::Bf16;
  CHECK_THROWS_WITH_AS(train::Trainer<train::Ntp>(copy, train::Ntp{}, opts), doctest::Contains("no float32 copy"), Error);
  CHECK_THROWS_WITH_AS(merge_lora(copy.weights(), peft::load_adapter(test::fixture("hf/" + name) / "lora", copy.config())),
                       doctest::Contains("without its float32 projections"), Error);
  Activations acts(lean.model->config(), batch.batch, batch.seq_len, /*keep_all_layers=*/true);
  const Decoder<Bidirectional> decoder(*lean.model, nullptr, lean.projections);
  decoder.forward(batch, acts);
  CHECK_THROWS_WITH_AS(decoder.backward(batch, acts, acts.hidden(), nullptr), needs, Error);
}

TEST_CASE("TextEncoder in bf16 loads the lean model; a GGUF file loads the same way") {
  if (!backend::cpu::has_avx512_bf16()) { MESSAGE("no AVX512-BF16 on this CPU: not tested"); return; }
  const auto path = test::fixture("gguf/gemma3-dev-f32.gguf");
  const std::vector<std::string> texts = {"Съединение прави силата.", "София е столицата на България."};
  const TextEncoder lean = TextEncoder::load(path, "bidirectional", "mean", backend::Compute::Bf16);
  CHECK(lean.compute() == backend::Compute::Bf16);
  CHECK_FALSE(lean.model().weights().has_projection_weights());
  TextEncoder full = TextEncoder::load(path, "bidirectional", "mean");
  CHECK(full.model().weights().has_projection_weights());
  full.set_compute(backend::Compute::Bf16);
  CHECK(lean.encode(texts) == full.encode(texts));
  TextEncoder switching = TextEncoder::load(path, "bidirectional", "mean", backend::Compute::Bf16);
  CHECK_THROWS_WITH_AS(switching.set_compute(backend::Compute::F32), doctest::Contains("in bf16 only"), Error);
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
  auto run = [&](const Projections& products, Matrix& dh) {
    dh = Matrix::Zero(N, H);
    Eigen::Ref<Matrix> ref(dh);
    return layers::lm_head_cross_entropy(hidden, W, predictions, 1.0f / float(predictions.size()), &ref, nullptr,
                                         std::nullopt, /*chunk=*/64, products);
  };
  Matrix dh32, dh16;
  const double loss32 = run(Projections(), dh32);
  const Projections bf16(model.weights(), backend::Compute::Bf16, /*for_training=*/true);
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
  run(Projections(model.weights(), backend::Compute::Bf16), dh_mixed);
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

}  // namespace test_backend_bf16
