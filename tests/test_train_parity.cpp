// Training agrees with Hugging Face transformers (float64 reference) on the mistral-dev, gemma2-dev and
// gemma3-dev fixtures (q_norm and k_norm included): the loss and the gradient of every parameter for NTP, MNTP and SimCSE, one AdamW step, and
// the gradients of a PEFT LoRA adapter under MNTP.
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

namespace test_train_parity {

using namespace bg2vec;

namespace {

constexpr double kTolerance = 1e-3;   // relative to the largest reference value of each tensor

using test::Gemma2Dev;
using test::Gemma3Dev;
using test::MistralDev;

std::filesystem::path model_dir(const char* fixture) { return test::fixture(std::string("hf/") + fixture); }

std::vector<int32_t> int32s(const io::SafetensorsFile& reference, const std::string& name) {
  std::vector<int32_t> out;
  for (int64_t v : reference.read_int64(name)) out.push_back(int32_t(v));
  return out;
}

// The fixture's batch for each objective, as its README defines it.
template <class O> train::TrainBatch fixture_batch(const io::SafetensorsFile& r);
template <> train::TrainBatch fixture_batch<train::Ntp>(const io::SafetensorsFile& r) { return {io::read_token_batch(r), {}, {}}; }
template <> train::TrainBatch fixture_batch<train::Mntp>(const io::SafetensorsFile& r) {
  train::TrainBatch b{io::read_token_batch(r), int32s(r, "mntp_labels"), {}};
  b.tokens.ids = int32s(r, "mntp_input_ids");
  return b;
}
template <> train::TrainBatch fixture_batch<train::SimCse>(const io::SafetensorsFile& r) {
  train::TrainBatch b{io::read_token_batch(r), {}, io::read_token_batch(r)};
  b.positive.ids = int32s(r, "mntp_input_ids");
  return b;
}
template <class O> O fixture_objective() { return O{}; }
template <> train::SimCse fixture_objective<train::SimCse>() { return {.temperature = 0.05f, .dropout = 0.0f}; }

template <class O> std::string prefix();
template <> std::string prefix<train::Ntp>() { return "ntp_grad"; }
template <> std::string prefix<train::Mntp>() { return "mntp_grad"; }
template <> std::string prefix<train::SimCse>() { return "simcse_grad"; }

// One objective on one fixture. NTP's reference used a causal mask without Gemma's sliding window,
// so it runs under test::CausalWithoutWindow (support.hpp); the others under their own attention.
template <class F, class O>
struct On {
  using fixture = F;
  using objective = O;
  using attention = std::conditional_t<std::is_same_v<O, train::Ntp>, test::CausalWithoutWindow, typename O::attention>;
};

}  // namespace

TEST_CASE_TEMPLATE("loss and the gradient of every parameter match transformers", C, On<MistralDev, train::Ntp>,
                   On<MistralDev, train::Mntp>, On<MistralDev, train::SimCse>, On<Gemma2Dev, train::Ntp>,
                   On<Gemma2Dev, train::Mntp>, On<Gemma2Dev, train::SimCse>, On<Gemma3Dev, train::Ntp>,
                   On<Gemma3Dev, train::Mntp>, On<Gemma3Dev, train::SimCse>) {
  using O = typename C::objective;
  const std::string name = C::fixture::name;
  const auto& reference = test::hf_reference(name);
  const Model model = load_model(model_dir(name.c_str()));
  const Decoder<typename C::attention> decoder(model);
  std::vector<float> grad(model.parameter_count(), 0.0f);
  DecoderTensors g(model.config(), model.layout(), grad.data());
  train::StepContext ctx;
  ctx.grads.base = &g;
  const double loss = fixture_objective<O>()(decoder, fixture_batch<O>(reference), ctx);

  CHECK(loss == doctest::Approx(reference.read_float32(prefix<O>() + "_loss")[0]).epsilon(1e-5));
  double worst = 0, worst_qk_norm = 0;
  int qk_norms = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({grad.data() + p.offset, p.size()}, reference.read_float32(prefix<O>() + "." + p.name));
    CHECK(err < kTolerance);
    worst = std::max(worst, err);
    if (p.name.find("self_attn.q_norm.") != std::string::npos || p.name.find("self_attn.k_norm.") != std::string::npos) {
      worst_qk_norm = std::max(worst_qk_norm, err);
      ++qk_norms;
    }
  }
  CHECK(qk_norms == (model.config().qk_norms() ? 2 * model.config().num_layers : 0));
  if (qk_norms) MESSAGE(name << " " << prefix<O>() << ": worst relative gradient error " << worst << " (q_norm/k_norm: " << worst_qk_norm << ")");
  else MESSAGE(name << " " << prefix<O>() << ": worst relative gradient error " << worst);
}

TEST_CASE_TEMPLATE("one AdamW step from the MNTP gradients matches torch.optim.AdamW", F, MistralDev, Gemma2Dev, Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  Model model = load_model(model_dir(F::name));
  std::vector<float> grad(model.parameter_count());
  for (const auto& p : model.layout().tensors()) reference.read_float32("mntp_grad." + p.name, {grad.data() + p.offset, p.size()});
  train::AdamW adamw({.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f});
  adamw.step(model.parameters(), grad, 1e-2f);
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error(model.parameter(p.name), reference.read_float32("adamw_step1." + p.name));
    CHECK(err < 1e-5);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " adamw_step1: worst relative error " << worst);
}

TEST_CASE_TEMPLATE("LoRA adapter gradients under MNTP match PEFT", F, MistralDev, Gemma2Dev, Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(model_dir(F::name));
  const LoraAdapter adapter = peft::load_adapter(model_dir(F::name) / "lora", model.config());
  CHECK(adapter.config().rank == 4);
  CHECK(adapter.config().scaling() == 2.0f);
  const Decoder<Bidirectional> decoder(model, &adapter);
  std::vector<float> grad(adapter.layout().total(), 0.0f);
  LoraTensors g(model.config(), adapter.layout(), grad.data());
  train::StepContext ctx;
  ctx.grads.lora = &g;
  const double loss = train::Mntp{}(decoder, fixture_batch<train::Mntp>(reference), ctx);
  CHECK(loss == doctest::Approx(reference.read_float32("lora_mntp_loss")[0]).epsilon(1e-5));
  double worst = 0;
  for (const auto& t : adapter.layout().tensors()) {
    CAPTURE(t.name);
    const std::string peft_name = t.name.substr(0, t.name.size() - 7) + ".default.weight";
    const double err = test::relative_error({grad.data() + t.offset, t.size()}, reference.read_float32("lora_mntp_grad." + peft_name));
    CHECK(err < kTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(std::string(F::name) << " lora_mntp_grad: worst relative error " << worst);
}

}  // namespace test_train_parity
