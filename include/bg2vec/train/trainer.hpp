#pragma once
// The trainer: an objective (policy) on a decoder with an attention (policy), an optimizer over the
// trainable flat buffer (the whole model, or only a LoRA adapter with the base frozen), gradient
// accumulation over micro-batches and clipping by global norm. An objective/attention pair that makes
// no sense fails to compile, with the objective's static_assert saying why.
#include <bg2vec/train/objectives.hpp>
#include <bg2vec/train/optimizer.hpp>

#include <span>
#include <variant>

namespace bg2vec::train {

struct TrainerOptions {
  std::string optimizer = "adamw";     // "sgd" or "adamw"
  AdamWConfig adamw;
  double clip = 0;                     // max global gradient norm; 0 = no clipping
  float lora_dropout = 0;
  ActivationMemory memory = ActivationMemory::AllLayers;   // LayerInputs = activation checkpointing
  uint64_t seed = 0;                   // dropout masks of step s derive from (seed, s): resumable
  backend::Compute compute = backend::Compute::F32;   // of the projections' products (gradients stay float32)
};

template <Objective O, AttentionPolicy Attn = typename O::attention>
class Trainer {
 public:
  Trainer(Model& model, O objective, TrainerOptions options, LoraAdapter* lora = nullptr)
      : model_(model), lora_(lora),
        decoder_(model, lora, Projections(model.weights(), options.compute, /*for_training=*/true)),
        objective_(objective), options_(options),
        grad_(trainable().size(), 0.0f) {
    if (options.optimizer == "adamw") optimizer_ = AdamW(options.adamw);
    else if (options.optimizer != "sgd") fail("unknown optimizer '" + options.optimizer + "' (expected sgd or adamw)");
    if (lora) lora_grads_.emplace(model.config(), lora->layout(), grad_.data());
    else base_grads_.emplace(model.config(), model.layout(), grad_.data());
    ctx_.grads = {base_grads_ ? &*base_grads_ : nullptr, lora_grads_ ? &*lora_grads_ : nullptr};
    ctx_.lora_dropout = options.lora_dropout;
    ctx_.memory = options.memory;
  }

  // Gradients of the mean loss over the micro-batches (accumulated into the gradient buffer, which is
  // zeroed first); returns that loss.
  double gradients(std::span<const TrainBatch> micro_batches) {
    require(!micro_batches.empty(), "a step needs at least one batch");
    std::fill(grad_.begin(), grad_.end(), 0.0f);
    double loss = 0;
    ctx_.scale = 1.0f / float(micro_batches.size());
    for (size_t i = 0; i < micro_batches.size(); ++i) {
      ctx_.seed = Dropout::mix(options_.seed ^ Dropout::mix(uint64_t(step_) * 1024 + i));
      loss += objective_(decoder_, micro_batches[i], ctx_) * ctx_.scale;
    }
    return loss;
  }

  // One optimisation step: gradients, clipping, update. Returns the mean loss before the update.
  double step(std::span<const TrainBatch> micro_batches, float lr) {
    const double loss = gradients(micro_batches);
    last_grad_norm_ = clip_grad_norm(grad_, options_.clip);
    std::visit([&](auto& opt) { opt.step(trainable(), grad_, lr); }, optimizer_);
    refresh_base_copies();
    ++step_;
    return loss;
  }
  double step(const TrainBatch& batch, float lr) { return step(std::span<const TrainBatch>(&batch, 1), lr); }

  // The loss without gradients (dropout still applies if the objective uses it: SimCSE's views).
  double evaluate(const TrainBatch& batch) {
    StepContext eval;
    eval.lora_dropout = 0;
    eval.seed = options_.seed;
    return objective_(decoder_, batch, eval);
  }

  std::span<float> trainable() { return lora_ ? std::span<float>(lora_->parameters()) : std::span<float>(model_.parameters()); }
  std::span<const float> gradient() const { return grad_; }
  int64_t steps_done() const { return step_; }
  // Goes on after `step` steps, once a checkpoint has replaced the trainable parameters and the optimizer's
  // state: the base's bf16 copies are made anew from the restored weights (products read those).
  void resume_at(int64_t step) {
    step_ = step;
    refresh_base_copies();
  }
  double last_grad_norm() const { return last_grad_norm_; }
  AdamW* adamw() { return std::get_if<AdamW>(&optimizer_); }
  const Decoder<Attn>& decoder() const { return decoder_; }

 private:
  // The bf16 copies of a fully trained base follow its float32 masters (a LoRA run's base never changes).
  void refresh_base_copies() {
    if (!lora_ && decoder_.projections().bf16()) decoder_.refresh_projections();
  }

  Model& model_;
  LoraAdapter* lora_;
  Decoder<Attn> decoder_;
  O objective_;
  TrainerOptions options_;
  std::variant<Sgd, AdamW> optimizer_;
  std::vector<float> grad_;
  std::optional<DecoderTensors> base_grads_;
  std::optional<LoraTensors> lora_grads_;
  StepContext ctx_;
  int64_t step_ = 0;
  double last_grad_norm_ = 0;
};

}  // namespace bg2vec::train
