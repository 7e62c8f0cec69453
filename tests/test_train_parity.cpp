// Training agrees with Hugging Face transformers (float64 reference) on the mistral-dev fixture: the
// loss and the gradient of every parameter for NTP, MNTP and SimCSE, one AdamW step, and the
// gradients of a PEFT LoRA adapter under MNTP.
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

using namespace bg2vec;

namespace {

constexpr double kTolerance = 1e-3;   // relative to the largest reference value of each tensor

const io::SafetensorsFile& reference() {
  static const io::SafetensorsFile file(test::fixture("hf/mistral-dev/reference.safetensors"));
  return file;
}

std::vector<int32_t> int32s(const std::string& name) {
  std::vector<int32_t> out;
  for (int64_t v : reference().read_int64(name)) out.push_back(int32_t(v));
  return out;
}

// The fixture's batch for each objective, as its README defines it.
template <class O> train::TrainBatch fixture_batch();
template <> train::TrainBatch fixture_batch<train::Ntp>() { return {io::read_token_batch(reference()), {}, {}}; }
template <> train::TrainBatch fixture_batch<train::Mntp>() {
  train::TrainBatch b{io::read_token_batch(reference()), int32s("mntp_labels"), {}};
  b.tokens.ids = int32s("mntp_input_ids");
  return b;
}
template <> train::TrainBatch fixture_batch<train::SimCse>() {
  train::TrainBatch b{io::read_token_batch(reference()), {}, io::read_token_batch(reference())};
  b.positive.ids = int32s("mntp_input_ids");
  return b;
}
template <class O> O fixture_objective() { return O{}; }
template <> train::SimCse fixture_objective<train::SimCse>() { return {.temperature = 0.05f, .dropout = 0.0f}; }

template <class O> std::string prefix();
template <> std::string prefix<train::Ntp>() { return "ntp_grad"; }
template <> std::string prefix<train::Mntp>() { return "mntp_grad"; }
template <> std::string prefix<train::SimCse>() { return "simcse_grad"; }

}  // namespace

TEST_CASE_TEMPLATE("loss and the gradient of every parameter match transformers", O, train::Ntp, train::Mntp, train::SimCse) {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const Decoder<typename O::attention> decoder(model);
  std::vector<float> grad(model.parameter_count(), 0.0f);
  DecoderTensors g(model.config(), model.layout(), grad.data());
  train::StepContext ctx;
  ctx.grads.base = &g;
  const double loss = fixture_objective<O>()(decoder, fixture_batch<O>(), ctx);

  CHECK(loss == doctest::Approx(reference().read_float32(prefix<O>() + "_loss")[0]).epsilon(1e-5));
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error({grad.data() + p.offset, p.size()}, reference().read_float32(prefix<O>() + "." + p.name));
    CHECK(err < kTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE(prefix<O>() << ": worst relative gradient error " << worst);
}

TEST_CASE("one AdamW step from the MNTP gradients matches torch.optim.AdamW") {
  Model model = load_model(test::fixture("hf/mistral-dev"));
  std::vector<float> grad(model.parameter_count());
  for (const auto& p : model.layout().tensors()) reference().read_float32("mntp_grad." + p.name, {grad.data() + p.offset, p.size()});
  train::AdamW adamw({.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f});
  adamw.step(model.parameters(), grad, 1e-2f);
  double worst = 0;
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const double err = test::relative_error(model.parameter(p.name), reference().read_float32("adamw_step1." + p.name));
    CHECK(err < 1e-5);
    worst = std::max(worst, err);
  }
  MESSAGE("adamw_step1: worst relative error " << worst);
}

TEST_CASE("LoRA adapter gradients under MNTP match PEFT") {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const LoraAdapter adapter = io::load_adapter(test::fixture("hf/mistral-dev/lora"), model.config());
  CHECK(adapter.config().rank == 4);
  CHECK(adapter.config().scaling() == 2.0f);
  const Decoder<Bidirectional> decoder(model, &adapter);
  std::vector<float> grad(adapter.layout().total(), 0.0f);
  LoraTensors g(model.config(), adapter.layout(), grad.data());
  train::StepContext ctx;
  ctx.grads.lora = &g;
  const double loss = train::Mntp{}(decoder, fixture_batch<train::Mntp>(), ctx);
  CHECK(loss == doctest::Approx(reference().read_float32("lora_mntp_loss")[0]).epsilon(1e-5));
  double worst = 0;
  for (const auto& t : adapter.layout().tensors()) {
    CAPTURE(t.name);
    const std::string peft_name = t.name.substr(0, t.name.size() - 7) + ".default.weight";
    const double err = test::relative_error({grad.data() + t.offset, t.size()}, reference().read_float32("lora_mntp_grad." + peft_name));
    CHECK(err < kTolerance);
    worst = std::max(worst, err);
  }
  MESSAGE("lora_mntp_grad: worst relative error " << worst);
}
