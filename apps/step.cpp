// bg2vec step: exactly one optimisation step on a fixed batch (no clipping, no schedule), writing the
// updated model (or, with --adapter, the updated PEFT adapter). The reference point for parity tests:
// with --optimizer sgd every weight changes by exactly lr x its gradient.
#include "cli.hpp"

#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>

namespace bg2vec::cli {
namespace {

int step(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("batch", po::value<std::string>()->required(),
       "safetensors: input_ids, attention_mask [B, T] int64 (right padding); mntp adds labels (-100 = ignore, ids "
       "already masked); simcse may add positive_input_ids, positive_attention_mask (the second view)")
      ("objective", po::value<std::string>()->required(), "ntp | mntp | simcse")
      ("optimizer", po::value<std::string>()->default_value("adamw"), "sgd | adamw (betas 0.9/0.999, eps 1e-8)")
      ("lr", po::value<float>()->required(), "learning rate")
      ("weight-decay", po::value<float>()->default_value(0.01f), "AdamW's decoupled weight decay (torch's default 0.01)")
      ("temperature", po::value<float>()->default_value(0.05f), "SimCSE temperature")
      ("dropout", po::value<float>()->default_value(0.0f),
       "attention-probability dropout (simcse) and LoRA dropout; default 0 so that the step is deterministic")
      ("adapter", po::value<std::string>(), "PEFT LoRA adapter folder: only the adapter trains")
      ("out", po::value<std::string>()->required(), "output folder: the updated model (or adapter)");
  add_compute_option(options);
  po::variables_map vm;
  if (!parse("step", "One optimisation step on a fixed batch; writes the updated model or adapter.", options, args, vm))
    return 0;
  const std::filesystem::path model_dir = vm["model"].as<std::string>(), batch_file = vm["batch"].as<std::string>(),
                              out = vm["out"].as<std::string>();
  const std::string objective = vm["objective"].as<std::string>();
  const float lr = vm["lr"].as<float>(), dropout = vm["dropout"].as<float>();
  require(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1)");

  // Everything is read and checked before anything is written.
  Model model = load_model(model_dir);
  const train::TrainBatch batch = train::read_train_batch(batch_file);
  train::check_train_batch(batch, model.config().vocab_size, batch_file.string());
  if (objective == "mntp" && !batch.has_labels()) fail(batch_file, "the mntp objective needs a 'labels' tensor");
  std::optional<LoraAdapter> lora;
  if (vm.count("adapter")) lora.emplace(peft::load_adapter(vm["adapter"].as<std::string>(), model.config()));

  train::TrainerOptions opts;
  opts.optimizer = vm["optimizer"].as<std::string>();
  opts.adamw.weight_decay = vm["weight-decay"].as<float>();
  opts.lora_dropout = dropout;
  opts.compute = compute_choice(vm, "f32");
  const double loss = train::with_objective(objective, [&]<class O>() {
    O obj{};
    if constexpr (std::is_same_v<O, train::SimCse>) obj = {.temperature = vm["temperature"].as<float>(), .dropout = dropout};
    train::Trainer<O> trainer(model, obj, opts, lora ? &*lora : nullptr);
    return trainer.step(batch, lr);
  });
  if (lora) {
    peft::save_adapter(*lora, out, model_dir.string());
  } else {
    save_model(model, out);
    save_tokenizer(model_dir, out);
  }
  std::printf("%s step: loss %.6f, wrote %s\n", objective.c_str(), loss, out.c_str());
  return 0;
}

const Command registered_step{"step", "one optimisation step on a fixed batch (ntp | mntp | simcse; sgd | adamw)", step};

}  // namespace
}  // namespace bg2vec::cli
