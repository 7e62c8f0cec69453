// nn/memory_estimate.hpp against the buffers it mirrors: the Activations arena, the bf16 packings of
// Projections, the bf16 attention's operands, the LoRA layout; and the relations inspect relies on
// (bf16 = f32 + the packed copies, a step needs more than encoding, LoRA less than full fine-tuning).
#include "support.hpp"

#include <bg2vec/backend/cpu/attention_bf16.hpp>
#include <bg2vec/nn/projections.hpp>
#include <bg2vec/nn/inference_model.hpp>
#include <bg2vec/nn/memory_estimate.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/train/init.hpp>

#include <doctest/doctest.h>

#include <thread>
#include <utility>
#include <vector>

namespace test_memory_estimate {

using namespace bg2vec;

TEST_CASE_TEMPLATE("the activation estimate is the arena Activations allocates", F, test::MistralDev, test::Gemma2Dev,
                   test::Gemma3Dev) {
  const io::ModelConfig c = io::load_config(test::fixture(std::string("hf/") + F::name));
  for (const ActivationMemory m : {ActivationMemory::OneLayer, ActivationMemory::AllLayers, ActivationMemory::LayerInputs})
    for (const auto& [B, T] : {std::pair{1, 1}, {3, 7}, {4, 16}}) {
      CAPTURE(int(m));
      CAPTURE(B);
      CAPTURE(T);
      const Activations acts(c, B, T, m);
      // If this fails, Activations changed its buffers: update memory::activation_floats to match.
      CHECK(4 * memory::activation_floats(c, B, T, m) == doctest::Approx(double(acts.bytes())));
    }
}

TEST_CASE_TEMPLATE("the packed-bytes estimate is what the bf16 packing allocates", F, test::MistralDev, test::Gemma2Dev,
                   test::Gemma3Dev) {
  Model model(io::load_config(test::fixture(std::string("hf/") + F::name)));
  train::initialise(model, 1);
  const auto& c = model.config();
  // Every projection, both packings (PackedB itself is plain C++: it runs on any CPU).
  double forward = 0, backward = 0;
  for (const auto& layer : model.weights().layers)
    for (const MatrixView* w : {&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      const auto f = backend::cpu::PackedB::for_x_wt(*w), b = backend::cpu::PackedB::for_x_w(*w);
      CHECK(memory::packed_bf16_bytes(w->cols(), w->rows()) == double(f.bytes()));
      CHECK(memory::packed_bf16_bytes(w->rows(), w->cols()) == double(b.bytes()));
      forward += double(f.bytes());
      backward += double(b.bytes());
    }
  CHECK(memory::packed_projection_bytes(c, backend::Compute::Bf16, false) == forward);
  CHECK(memory::packed_projection_bytes(c, backend::Compute::Bf16, true) == forward + backward);
  CHECK(memory::packed_projection_bytes(c, backend::Compute::F32, true) == 0);
  // The lm_head's copies (packed by a token-prediction loss on first use).
  const auto& head = model.weights().lm_head;
  CHECK(memory::packed_lm_head_bytes(c, backend::Compute::Bf16, false) == double(backend::cpu::PackedB::for_x_wt(head).bytes()));
  CHECK(memory::packed_lm_head_bytes(c, backend::Compute::Bf16, true) ==
        double(backend::cpu::PackedB::for_x_wt(head).bytes() + backend::cpu::PackedB::for_x_w(head).bytes()));
  CHECK(memory::packed_lm_head_bytes(c, backend::Compute::F32, true) == 0);
  if (backend::cpu::has_avx512_bf16()) {   // and the Projections the decoder really uses
    CHECK(double(Projections(model.weights(), backend::Compute::Bf16).packed_bytes()) == forward);
    CHECK(double(Projections(model.weights(), backend::Compute::Bf16, true).packed_bytes()) == forward + backward);
    // A model loaded for bf16 encoding: its buffer and its copies.
    const InferenceModel encoder = load_for_inference(test::fixture(std::string("hf/") + F::name), backend::Compute::Bf16);
    CHECK(double(encoder.model->parameter_count()) == memory::buffer_floats(c, ProjectionWeights::Outside));
    CHECK(double(encoder.projections.packed_bytes()) == forward);
  }
}

TEST_CASE_TEMPLATE("the bf16 attention estimate is what its operands allocate", F, test::MistralDev, test::Gemma2Dev,
                   test::Gemma3Dev) {
  const io::ModelConfig c = io::load_config(test::fixture(std::string("hf/") + F::name));
  CHECK(memory::attention_operand_bytes(c, backend::Compute::F32, 4, 16, true) == 0);
  if (!backend::cpu::has_avx512_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: the bf16 attention's buffers are not measured");
    return;
  }
  for (const auto& [B, T] : {std::pair{1, 1}, {3, 7}, {2, 16}}) {
    CAPTURE(B);
    CAPTURE(T);
    const Eigen::Index N = Eigen::Index(B) * T;
    const Matrix q = Matrix::Random(N, c.q_dim()), k = Matrix::Random(N, c.kv_dim()), v = Matrix::Random(N, c.kv_dim());
    const std::vector<int> key_first(size_t(B), 0);
    const backend::cpu::AttentionLayout layout{B, T, c.num_heads, c.num_kv_heads, c.head_dim};
    // The operands are the calling thread's and only grow: each count starts from a new thread's empty buffers.
    size_t encoding = 0, step = 0;
    std::thread([&] {
      const backend::cpu::Bf16AttentionForward forward(q, k, v, layout, key_first);
      encoding = backend::cpu::detail::call_operands().bytes();
      const backend::cpu::Bf16AttentionBackward backward(q, k, v, q, layout, key_first);   // dO: any [N, q_dim]
      step = backend::cpu::detail::call_operands().bytes();
    }).join();
    // If this fails, the bf16 attention changed its operands: update memory::attention_operand_bytes to match.
    CHECK(memory::attention_operand_bytes(c, backend::Compute::Bf16, B, T, false) == double(encoding));
    CHECK(memory::attention_operand_bytes(c, backend::Compute::Bf16, B, T, true) == double(step));
  }
}

TEST_CASE("inference and step estimates: their parts add up and order as they must") {
  const io::ModelConfig c = io::load_config(test::fixture("hf/mistral-dev"));
  const double P = double(ParameterLayout(c).total());
  const auto f32 = memory::inference(c, backend::Compute::F32, 4, 32), bf16 = memory::inference(c, backend::Compute::Bf16, 4, 32);
  const double acts = 4 * memory::activation_floats(c, 4, 32, ActivationMemory::OneLayer);
  const double packed = memory::packed_projection_bytes(c, backend::Compute::Bf16, false);
  // bf16 encoding keeps the projections only as bf16 copies: the buffer lacks exactly their floats.
  double projection_floats = 0;
  for (const auto& [in, out] : memory::projection_shapes(c)) projection_floats += double(in) * double(out) * c.num_layers;
  const double P_encode = memory::buffer_floats(c, ProjectionWeights::Outside);
  CHECK(P_encode == doctest::Approx(P - projection_floats));
  CHECK(bf16.peak() == doctest::Approx(4 * P_encode + packed + memory::gemm_scratch_bytes(c, backend::Compute::Bf16, 4, 32, false) +
                                      memory::attention_operand_bytes(c, backend::Compute::Bf16, 4, 32, false) + acts));
  CHECK(f32.peak() == doctest::Approx(4 * P + acts));
  // While the file is read, about one tensor of it is resident (the largest's share of the file's bytes); load_model
  // moves the Model out (no second copy of the weights).
  double largest_tensor = 0;
  const ParameterLayout layout(c);
  for (const auto& t : layout.tensors()) largest_tensor = std::max(largest_tensor, double(t.size()));
  const double file = 1e9, mapped = file * largest_tensor / P;
  const auto from_file = memory::inference(c, backend::Compute::F32, 4, 32, file);
  CHECK(from_file.peak() == doctest::Approx(4 * P + mapped));
  CHECK(from_file.peak_phase().name == "load");
  // bf16: the buffer without projections, every bf16 copy and the one float32 projection being read.
  double largest = 0;
  for (const auto& [in, out] : memory::projection_shapes(c)) largest = std::max(largest, double(in) * double(out));
  CHECK(memory::inference(c, backend::Compute::Bf16, 4, 32, file).phases[0].bytes() ==
        doctest::Approx(4 * P_encode + packed + 4 * largest + mapped));

  memory::StepShape full;
  full.batch = 4;
  full.seq_len = 32;
  memory::StepShape lora = full;
  lora.lora = true;
  for (const auto compute : {backend::Compute::F32, backend::Compute::Bf16}) {
    CAPTURE(std::string(backend::compute_name(compute)));
    const auto step_full = memory::training(c, compute, full), step_lora = memory::training(c, compute, lora);
    const auto encode = memory::inference(c, compute, 4, 32);
    CHECK(step_full.peak() > encode.peak());
    CHECK(step_lora.peak() > encode.peak());
    CHECK(step_lora.peak() < step_full.peak());
    // Full fine-tuning keeps weights, gradients and two AdamW moments of every parameter: at least 16 bytes each.
    CHECK(step_full.peak() > 16 * P);
    memory::StepShape checkpointed = full;
    checkpointed.memory = ActivationMemory::LayerInputs;
    CHECK(memory::training(c, compute, checkpointed).peak() < step_full.peak());
  }
  const double adapter = double(LoraLayout(c, LoraConfig{}).total());
  const auto lora_f32 = memory::training(c, backend::Compute::F32, lora);
  double kept = 0;
  for (const auto& item : lora_f32.phases[1].items)
    if (item.what.find("gradients") != std::string::npos || item.what.find("AdamW") != std::string::npos) kept += item.bytes;
  CHECK(kept == 12 * adapter);
}

}  // namespace test_memory_estimate
