// The CUDA backend on a GPU: cuBLASLt products against Eigen; the device decoder's forward pass (every
// layer's hidden states, logits, pooled embeddings; both attention policies with key padding, the sliding
// window of the causal one) against the CPU decoder and transformers' float64 references (tests/fixtures/hf);
// the MNTP loss and the gradient of every parameter, and one AdamW step, against transformers' and torch's; the
// LoRA adapter's MNTP gradients against PEFT's; SimCSE's loss and gradients against transformers' and, with
// attention and LoRA dropout, against the CPU decoder's.
// In the float32 mode to float32 tolerance, in the bf16 mode to kBf16Tolerance. Without a GPU it exits with
// CTest's skip code (kSkip, SKIP_RETURN_CODE in tests/cuda/CMakeLists.txt): a skip, not a pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <bg2vec/cuda/decoder.hpp>
#include <bg2vec/cuda/gemm.hpp>
#include <bg2vec/cuda/runtime.hpp>
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/info_nce.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <doctest/doctest.h>

#include "../support.hpp"

#include <cstdio>

using namespace bg2vec;
namespace cu = bg2vec::cuda;

namespace {

constexpr int kSkip = 77;
constexpr double kF32Tolerance = 1e-5;    // against the CPU decoder (float32 sums in another order)
constexpr double kHfTolerance = 1e-4;     // against transformers, as tests/test_forward_parity.cpp
constexpr double kHfGradTolerance = 1e-3; // per tensor, as tests/test_train_parity.cpp
// bf16 weights and product inputs (8 significant bits: 2^-9 relative rounding each), float32 accumulation and
// residual stream: the hidden states stay within a few percent of the float32 ones relative to their largest
// value on these 2-3-layer models.
constexpr double kBf16Tolerance = 3e-2;

using test::random_matrix;

double relative_error(const Eigen::Ref<const Matrix>& a, const Eigen::Ref<const Matrix>& b) {
  return test::relative_error(test::span_of(a), test::span_of(b));
}

using test::On;
using test::CausalWithoutWindow;
using test::Gemma2Dev;
using test::Gemma3Dev;
using test::MistralDev;

}  // namespace

TEST_CASE("cuBLASLt products in float32 match Eigen, every transposition, with accumulation") {
  cu::Gemm gemm;
  const int M = 37, N = 29, K = 45;
  const Matrix a = random_matrix(M, K, 1), b = random_matrix(K, N, 2), c0 = random_matrix(M, N, 3);
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const Matrix as = ta ? Matrix(a.transpose()) : a, bs = tb ? Matrix(b.transpose()) : b;   // stored forms
      cu::DeviceArena arena(1 << 20);
      float* da = arena.take<float>(size_t(as.size()));
      float* db = arena.take<float>(size_t(bs.size()));
      float* dc = arena.take<float>(size_t(c0.size()));
      cu::upload(da, as.data(), size_t(as.size()));
      cu::upload(db, bs.data(), size_t(bs.size()));
      cu::upload(dc, c0.data(), size_t(c0.size()));
      gemm(M, N, K, {da, cu::Dtype::F32, ta, int(as.cols())}, {db, cu::Dtype::F32, tb, int(bs.cols())}, dc, cu::Dtype::F32, N, 0.5f,
           1.0f);
      Matrix c(M, N);
      cu::download(c.data(), dc, size_t(c.size()));
      CHECK(relative_error(c, Matrix(0.5f * a * b + c0)) < 1e-6);
    }
}

TEST_CASE_TEMPLATE("device forward in float32 matches the CPU decoder and transformers", C, On<MistralDev, CausalWithoutWindow>,
                   On<MistralDev, Bidirectional>, On<Gemma2Dev, CausalWithoutWindow>, On<Gemma2Dev, Bidirectional>,
                   On<Gemma3Dev, CausalWithoutWindow>, On<Gemma3Dev, Bidirectional>) {
  using P = typename C::attention;
  const std::string name = C::fixture::name;
  const auto& reference = test::hf_reference(name);
  const Model model = load_model(test::fixture("hf/" + name));
  const TokenBatch batch = io::read_token_batch(reference);
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  std::vector<Matrix> cpu_outputs, gpu_outputs;
  const Decoder<P> cpu(model);
  cpu.forward(batch, acts, &cpu_outputs);

  cu::DeviceDecoder<float> gpu(model);
  gpu.forward<P>(batch, &gpu_outputs);
  REQUIRE(gpu_outputs.size() == cpu_outputs.size());
  const int L = model.config().num_layers;
  for (size_t l = 0; l < gpu_outputs.size(); ++l) {
    CAPTURE(l);
    const double err = relative_error(gpu_outputs[l], cpu_outputs[l]);
    CHECK(err < kF32Tolerance);
    // HF's hidden_states: embedding, layers 1..L-1, final norm(layer L); ours has layer L too (index L)
    if (l != size_t(L)) {
      const int hf = l < size_t(L) ? int(l) : L;
      const double hf_err =
          test::relative_error(test::span_of(gpu_outputs[l]), reference.read_float32(C::prefix() + "hidden." + std::to_string(hf)));
      CHECK(hf_err < kHfTolerance);
      MESSAGE(name << " " << C::prefix() << "hidden." << hf << ": vs CPU " << err << ", vs transformers " << hf_err);
    }
  }
  Matrix cpu_logits;
  cpu.logits(acts, cpu_logits);
  const Matrix logits = gpu.logits();
  CHECK(relative_error(logits, cpu_logits) < kF32Tolerance);
  const double logits_err = test::relative_error(test::span_of(logits), reference.read_float32(C::prefix() + "logits"));
  CHECK(logits_err < kHfTolerance);
  const Matrix pooled = gpu.template embed<P, pool::Mean>(batch);
  const double pool_err = test::relative_error(test::span_of(pooled), reference.read_float32(C::prefix() + "mean_pool"));
  CHECK(pool_err < kHfTolerance);
  CHECK(relative_error(pooled, pool::pool_forward<pool::Mean>(acts.hidden(), batch)) < kF32Tolerance);
  MESSAGE(name << " " << C::prefix() << "logits vs transformers " << logits_err << ", mean_pool " << pool_err);
}

TEST_CASE_TEMPLATE("the default causal mask (sliding window on Gemma's sliding layers) on the device", F, MistralDev, Gemma2Dev,
                   Gemma3Dev) {
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  const TokenBatch batch = io::read_token_batch(test::hf_reference(F::name));
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  const Decoder<Causal> cpu(model);
  cpu.forward(batch, acts);
  cu::DeviceDecoder<float> gpu(model);
  gpu.forward<Causal>(batch);
  CHECK(relative_error(gpu.hidden(), acts.hidden()) < kF32Tolerance);
  const Matrix pooled = gpu.template embed<Causal, pool::LastToken>(batch);
  CHECK(relative_error(pooled, pool::pool_forward<pool::LastToken>(acts.hidden(), batch)) < kF32Tolerance);
}

TEST_CASE_TEMPLATE("device forward in bf16 stays within the bf16 tolerance of float32", F, MistralDev, Gemma2Dev, Gemma3Dev) {
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  const TokenBatch batch = io::read_token_batch(test::hf_reference(F::name));
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Bidirectional>(model).forward(batch, acts);
  cu::DeviceDecoder<cu::Bf16> gpu(model);
  const Matrix pooled = gpu.template embed<Bidirectional, pool::Mean>(batch);
  const double hidden_err = relative_error(gpu.hidden(), acts.hidden());
  const Matrix expected = pool::pool_forward<pool::Mean>(acts.hidden(), batch);
  const double pool_err = relative_error(pooled, expected);
  double min_cosine = 1;
  for (int b = 0; b < batch.batch; ++b)
    min_cosine = std::min(min_cosine, double(pooled.row(b).normalized().dot(expected.row(b).normalized())));
  CHECK(hidden_err < kBf16Tolerance);
  CHECK(pool_err < kBf16Tolerance);
  CHECK(min_cosine > 0.999);
  MESSAGE(std::string(F::name) << " bf16: hidden " << hidden_err << ", mean_pool " << pool_err << ", min cosine " << min_cosine);
}

namespace {
std::vector<int32_t> int32s(const io::SafetensorsFile& reference, const std::string& name) {
  std::vector<int32_t> out;
  for (int64_t v : reference.read_int64(name)) out.push_back(int32_t(v));
  return out;
}
// The fixture's MNTP batch: the masked ids, the labels (tests/fixtures/hf/README.md).
TokenBatch mntp_batch(const io::SafetensorsFile& r) {
  TokenBatch b = io::read_token_batch(r);
  b.ids = int32s(r, "mntp_input_ids");
  return b;
}
}  // namespace

TEST_CASE_TEMPLATE("MNTP on the device: the loss and the gradient of every parameter match transformers", F, MistralDev, Gemma2Dev,
                   Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  cu::DeviceDecoder<float> gpu(model, /*trainable=*/true);
  const double loss = gpu.token_prediction<Bidirectional>(mntp_batch(reference), int32s(reference, "mntp_labels"));
  CHECK(loss == doctest::Approx(reference.read_float32("mntp_grad_loss")[0]).epsilon(1e-5));
  const std::vector<float> grad = gpu.gradients();
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({grad.data() + p.offset, p.size()}, reference.read_float32("mntp_grad." + p.name));
    CHECK(err < kHfGradTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " mntp_grad on the device: loss " << loss << ", worst relative gradient error " << worst);

  // the bf16 mode against the float32 one
  cu::DeviceDecoder<cu::Bf16> bf16(model, true);
  const double loss_bf16 = bf16.token_prediction<Bidirectional>(mntp_batch(reference), int32s(reference, "mntp_labels"));
  const std::vector<float> grad_bf16 = bf16.gradients();
  double worst_bf16 = 0;
  std::string worst_name;
  for (const auto& p : model.layout().tensors()) {
    const double err = test::relative_error({grad_bf16.data() + p.offset, p.size()}, {grad.data() + p.offset, p.size()});
    if (err > worst_bf16) worst_name = p.name;
    worst_bf16 = std::max(worst_bf16, err);
  }
  CHECK(loss_bf16 == doctest::Approx(loss).epsilon(kBf16Tolerance));
  CHECK(worst_bf16 < 0.1);   // per tensor, relative to its largest gradient: bf16 products of 2-3 layers
  MESSAGE(std::string(F::name) << " mntp_grad bf16: loss " << loss_bf16 << ", worst relative gradient error against float32 "
                                << worst_bf16 << " (" << worst_name << ")");
}

TEST_CASE_TEMPLATE("LoRA on the device: the MNTP loss and the adapter's gradients match PEFT", F, MistralDev, Gemma2Dev, Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  const LoraAdapter adapter = peft::load_adapter(test::fixture(std::string("hf/") + F::name + "/lora"), model.config());
  cu::DeviceDecoder<float> gpu(model, /*trainable=*/true, &adapter);
  const double loss = gpu.token_prediction<Bidirectional>(mntp_batch(reference), int32s(reference, "mntp_labels"));
  CHECK(loss == doctest::Approx(reference.read_float32("lora_mntp_loss")[0]).epsilon(1e-5));
  const std::vector<float> grad = gpu.gradients();
  REQUIRE(grad.size() == adapter.parameters().size());
  double worst = 0;
  for (const auto& t : adapter.layout().tensors()) {
    CAPTURE(t.name);
    const std::string peft_name = t.name.substr(0, t.name.size() - 7) + ".default.weight";
    const double err = test::relative_error({grad.data() + t.offset, t.size()}, reference.read_float32("lora_mntp_grad." + peft_name));
    CHECK(err < kHfGradTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " lora_mntp_grad on the device: loss " << loss << ", worst relative error " << worst);

  // a step moves only the adapter, and the bf16 mode's adapter gradients stay near the float32 ones
  gpu.adamw_step(1e-3f);
  const std::vector<float> after = gpu.parameters();
  CHECK(after.size() == adapter.parameters().size());
  cu::DeviceDecoder<cu::Bf16> bf16(model, true, &adapter);
  const double loss_bf16 = bf16.token_prediction<Bidirectional>(mntp_batch(reference), int32s(reference, "mntp_labels"));
  const std::vector<float> grad_bf16 = bf16.gradients();
  double worst_bf16 = 0;
  for (const auto& t : adapter.layout().tensors())
    worst_bf16 = std::max(worst_bf16, test::relative_error({grad_bf16.data() + t.offset, t.size()}, {grad.data() + t.offset, t.size()}));
  CHECK(loss_bf16 == doctest::Approx(loss).epsilon(kBf16Tolerance));
  CHECK(worst_bf16 < 0.1);
  MESSAGE(std::string(F::name) << " lora_mntp_grad bf16: loss " << loss_bf16 << ", worst relative error against float32 " << worst_bf16);
}

TEST_CASE("LoRA dropout on the device draws the CPU's masks: loss and adapter gradients as the CPU decoder's") {
  const auto& reference = test::hf_reference(MistralDev::name);
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const LoraAdapter adapter = peft::load_adapter(test::fixture("hf/mistral-dev/lora"), model.config());
  const TokenBatch batch = mntp_batch(reference);
  const std::vector<int32_t> labels = int32s(reference, "mntp_labels");
  // the CPU: train::Mntp's computation, with LoRA dropout 0.3
  const Decoder<Bidirectional> cpu(model, &adapter);
  Activations acts(model.config(), batch.batch, batch.seq_len, ActivationMemory::AllLayers);
  acts.lora_dropout = {0.3f, 7};
  cpu.forward(batch, acts);
  std::vector<layers::Prediction> predictions;
  for (int b = 0; b < batch.batch; ++b)
    for (int t = 1; t < batch.seq_len; ++t)
      if (const int32_t y = labels[size_t(b) * batch.seq_len + t]; y != -100) predictions.push_back({Eigen::Index(b) * batch.seq_len + t - 1, y});
  const float mean = 1.0f / float(predictions.size());
  Matrix dh = Matrix::Zero(acts.hidden().rows(), acts.hidden().cols());
  Eigen::Ref<Matrix> dh_ref(dh);
  const double cpu_loss =
      layers::lm_head_cross_entropy(acts.hidden(), model.weights().lm_head, predictions, mean, &dh_ref, nullptr, cpu.final_softcap()) * mean;
  std::vector<float> cpu_grad(adapter.layout().total(), 0.0f);
  LoraTensors g(model.config(), adapter.layout(), cpu_grad.data());
  cpu.backward(batch, acts, dh, nullptr, &g);

  cu::DeviceDecoder<float> gpu(model, true, &adapter);
  gpu.set_lora_dropout(0.3f, 7);
  const double loss = gpu.token_prediction<Bidirectional>(batch, labels);
  CHECK(loss == doctest::Approx(cpu_loss).epsilon(1e-5));
  const std::vector<float> grad = gpu.gradients();
  double worst = 0;
  for (const auto& t : adapter.layout().tensors())
    worst = std::max(worst, test::relative_error({grad.data() + t.offset, t.size()}, {cpu_grad.data() + t.offset, t.size()}));
  CHECK(worst < kF32Tolerance);
  MESSAGE("mistral-dev LoRA dropout 0.3: loss " << loss << " (CPU " << cpu_loss << "), worst relative gradient error " << worst);
}

TEST_CASE_TEMPLATE("SimCSE on the device: the loss and the gradient of every parameter match transformers", F, MistralDev, Gemma2Dev,
                   Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  cu::DeviceDecoder<float> gpu(model, true);
  const double loss = gpu.simcse<Bidirectional, pool::Mean>(io::read_token_batch(reference), mntp_batch(reference), 0.05f, 0.0f);
  CHECK(loss == doctest::Approx(reference.read_float32("simcse_grad_loss")[0]).epsilon(1e-5));
  const std::vector<float> grad = gpu.gradients();
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({grad.data() + p.offset, p.size()}, reference.read_float32("simcse_grad." + p.name));
    CHECK(err < kHfGradTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " simcse_grad on the device: loss " << loss << ", worst relative gradient error " << worst);
}

// mistral-dev and its two views (ids, masked ids). The tolerance is the CPU reference's: its InfoNCE takes
// p_ii - 1 in float32, which cancels as the loss gets small (1e-5 of the gradients at this loss of 1e-3, 1e-3 on
// gemma3-dev's 6e-6); the device's InfoNCE rows avoid that and match transformers' float64 to 1.2e-6 (above).
TEST_CASE("SimCSE with attention and LoRA dropout on the device: loss and adapter gradients as the CPU decoder's") {
  const auto& reference = test::hf_reference(MistralDev::name);
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const LoraAdapter adapter = peft::load_adapter(test::fixture("hf/mistral-dev/lora"), model.config());
  const TokenBatch batch = io::read_token_batch(reference), positive = mntp_batch(reference);
  const uint64_t seed = 5;
  const float dropout = 0.3f, lora_dropout = 0.1f, tau = 0.05f;
  // the CPU: train::SimCseWith<pool::Mean>'s computation
  const Decoder<Bidirectional> cpu(model, &adapter);
  Activations a(model.config(), batch.batch, batch.seq_len, ActivationMemory::AllLayers),
      b(model.config(), positive.batch, positive.seq_len, ActivationMemory::AllLayers);
  a.attention_dropout = {dropout, seed * 2 + 1};
  b.attention_dropout = {dropout, seed * 2 + 2};
  a.lora_dropout = {lora_dropout, seed * 2 + 1};
  b.lora_dropout = {lora_dropout, seed * 2 + 2};
  cpu.forward(batch, a);
  cpu.forward(positive, b);
  const Matrix pa = pool::pool_forward<pool::Mean>(a.hidden(), batch), pb = pool::pool_forward<pool::Mean>(b.hidden(), positive);
  Matrix da = Matrix::Zero(pa.rows(), pa.cols()), db = Matrix::Zero(pb.rows(), pb.cols());
  const double cpu_loss = layers::info_nce(pa, pb, tau, &da, &db);
  Matrix dha = Matrix::Zero(a.hidden().rows(), a.hidden().cols()), dhb = dha;
  pool::pool_backward<pool::Mean>(da, batch, dha);
  pool::pool_backward<pool::Mean>(db, positive, dhb);
  std::vector<float> cpu_grad(adapter.layout().total(), 0.0f);
  LoraTensors g(model.config(), adapter.layout(), cpu_grad.data());
  cpu.backward(positive, b, dhb, nullptr, &g);
  cpu.backward(batch, a, dha, nullptr, &g);

  cu::DeviceDecoder<float> gpu(model, true, &adapter);
  gpu.set_lora_dropout(lora_dropout, 0);
  const double loss = gpu.simcse<Bidirectional, pool::Mean>(batch, positive, tau, dropout, seed);
  CHECK(loss == doctest::Approx(cpu_loss).epsilon(1e-5));
  const std::vector<float> grad = gpu.gradients();
  double worst = 0;
  for (const auto& t : adapter.layout().tensors())
    worst = std::max(worst, test::relative_error({grad.data() + t.offset, t.size()}, {cpu_grad.data() + t.offset, t.size()}));
  CHECK(worst < 1e-4);
  MESSAGE("mistral-dev SimCSE with dropout 0.3, LoRA dropout 0.1: loss " << loss << " (CPU " << cpu_loss
                                                                        << "), worst relative adapter gradient error " << worst);
}

TEST_CASE_TEMPLATE("one AdamW step on the device from the MNTP gradients matches torch.optim.AdamW", F, MistralDev, Gemma2Dev,
                   Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(test::fixture(std::string("hf/") + F::name));
  std::vector<float> grad(model.parameter_count());
  for (const auto& p : model.layout().tensors()) reference.read_float32("mntp_grad." + p.name, {grad.data() + p.offset, p.size()});
  cu::DeviceDecoder<float> gpu(model, true);
  gpu.set_gradients(grad);
  gpu.adamw_step(1e-2f, {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f});
  const std::vector<float> params = gpu.parameters();
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({params.data() + p.offset, p.size()}, reference.read_float32("adamw_step1." + p.name));
    CHECK(err < 1e-5);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " adamw_step1 on the device: worst relative error " << worst);
}

int main(int argc, char** argv) {
  if (cu::device_count() == 0) {
    std::puts("test_cuda_device: no GPU here: skipped");
    return kSkip;
  }
  return doctest::Context(argc, argv).run();
}
