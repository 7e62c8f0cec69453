// bg2vec train: NTP pretraining, MNTP or SimCSE on token shards or text, full fine-tuning or LoRA.
// Progress (step, loss, tokens/s, ETA), validation loss every N steps, a JSON Lines log, atomic
// checkpoints and automatic resume from <out>/checkpoint; the result is an HF model folder (LoRA
// merged, the adapter also in <out>/adapter) with bg2vec.json recording attention and pooling.
#include "cli.hpp"

#include <bg2vec/core/folder_lock.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/core/resources.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/memory_estimate.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <bg2vec/train/data.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

namespace bg2vec::cli {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) if (!item.empty()) out.push_back(item);
  return out;
}

// Keeps the log lines of steps <= `step` (a resumed run rewrites what came after its checkpoint).
void trim_log(const std::filesystem::path& log, int64_t step) {
  if (!std::filesystem::exists(log)) return;
  std::ifstream in(log);
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t(0)) <= step) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {}   // a line cut by the kill
  }
  write_file_atomically(log, kept);
}

// Whether `out` holds anything but a run of ours: a checkpoint to resume, or what a run killed before its first
// checkpoint leaves (its lock, its log, a half-written checkpoint folder).
bool holds_other_files(const std::filesystem::path& out) {
  if (!std::filesystem::is_directory(out) || train::find_checkpoint(out)) return false;
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    if (name != ".lock" && name != "train_log.jsonl" && !name.starts_with("checkpoint.tmp.")) return true;
  }
  return false;
}

// The run's peak memory (nn/memory_estimate.hpp: the largest phase of a step) and the bytes it writes (the
// model, the adapter, a checkpoint and, while it is replaced, its predecessor) against what is free: a run that
// would not fit stops here, with the numbers, not when the OOM killer or a full disk stops it.
void check_resources(const io::ModelConfig& c, const po::variables_map& vm, const std::string& objective,
                     const std::filesystem::path& model_dir, const std::filesystem::path& out) {
  memory::StepShape shape;
  shape.batch = vm["batch-size"].as<int>() * (objective == "simcse" ? 2 : 1);   // SimCSE: two views of each text
  shape.seq_len = vm["seq-len"].as<int>();
  shape.lora = vm["lora-rank"].as<int>() > 0;
  shape.lora_config = {vm["lora-rank"].as<int>(), vm["lora-alpha"].as<float>(), 0, split_list(vm["lora-targets"].as<std::string>())};
  shape.memory = vm["activation-checkpointing"].as<bool>() ? ActivationMemory::LayerInputs : ActivationMemory::AllLayers;
  shape.predicted = objective == "ntp" ? 1.0 : objective == "mntp" ? vm["mask-rate"].as<float>() : 0.0;
  shape.adamw = vm["optimizer"].as<std::string>() == "adamw";
  const bool gguf = !model_dir.empty() && is_gguf(model_dir);
  double file_bytes = 0;
  if (gguf) {
    file_bytes = double(std::filesystem::file_size(model_dir));
  } else if (!model_dir.empty()) {
    const io::TensorStore store(model_dir);
    for (const auto& name : store.names()) file_bytes += double(store.info(name).end - store.info(name).begin);
  }
  const double memory_needed = memory::training(c, compute_choice(vm), shape, file_bytes).peak();
  if (const auto available = available_memory_bytes(); available && memory_needed > *available)
    fail("this run needs about " + gib(memory_needed) + " of memory at its peak and " + gib(*available) +
         " is available (a smaller --batch-size or --seq-len, --activation-checkpointing or LoRA need less; "
         "bg2vec inspect --model M --batch B --seq-len T shows the estimate; --no-resource-check starts anyway)");

  const double parameters = double(ParameterLayout(c).total());
  const double trainable = shape.lora ? double(LoraLayout(c, shape.lora_config).total()) : parameters;
  const double disk_needed = 4 * parameters + 4 * trainable + 2 * 4 * trainable * (shape.adamw ? 3 : 1);
  if (const double free = free_disk_bytes(out); disk_needed > free)
    fail(out, "this run writes about " + gib(disk_needed) + " (model, checkpoints) and the disk has " + gib(free) +
                  " free (--no-resource-check starts anyway)");
}

int train_command(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("objective", po::value<std::string>()->required(), "ntp | mntp | simcse")
      ("attention", po::value<std::string>()->default_value(""),
       "causal | bidirectional; default the objective's (ntp causal, mntp and simcse bidirectional); "
       "simcse also trains causal models (LLM2Vec's Uni + SimCSE ablation)")
      ("model", po::value<std::string>(), "start from this model folder (HF layout)")
      ("init-config", po::value<std::string>(), "or start from a random model of this config.json")
      ("shards", po::value<std::string>(), "token shards folder (train-NNNNN.bin; val-NNNNN.bin for validation)")
      ("text-file", po::value<std::string>(), "or texts, one per line (e.g. SimCSE sentences)")
      ("val-text-file", po::value<std::string>(), "validation texts, one per line")
      ("group-by-length", po::bool_switch(), "--text-file: batches of texts of similar length (less padding), same texts per epoch")
      ("tokenizer", po::value<std::string>(), "tokenizer.model (default: the model's: its folder's, or a GGUF file's)")
      ("out", po::value<std::string>()->required(), "output folder (model, bg2vec.json, log, checkpoint)")
      ("batch-size", po::value<int>()->default_value(16), "sequences per micro-batch")
      ("seq-len", po::value<int>()->default_value(128), "tokens per sequence (at most the shards' block length)")
      ("steps", po::value<int>()->default_value(100), "optimisation steps")
      ("accumulation", po::value<int>()->default_value(1), "micro-batches per step (gradient accumulation)")
      ("lr", po::value<float>()->default_value(1e-3f), "peak learning rate")
      ("schedule", po::value<std::string>()->default_value("linear"), "constant | linear (decay to 0)")
      ("warmup", po::value<int>()->default_value(0), "linear warm-up steps")
      ("optimizer", po::value<std::string>()->default_value("adamw"), "sgd | adamw")
      ("weight-decay", po::value<float>()->default_value(0.01f), "AdamW weight decay")
      ("clip", po::value<double>()->default_value(1.0), "max global gradient norm (0: off)")
      ("seed", po::value<uint64_t>()->default_value(0), "seed of init, data order, masking and dropout")
      ("lora-rank", po::value<int>()->default_value(0), "LoRA rank (0: full fine-tuning)")
      ("lora-alpha", po::value<float>()->default_value(32), "LoRA alpha (scaling alpha/rank)")
      ("lora-dropout", po::value<float>()->default_value(0.05f), "LoRA dropout")
      ("lora-targets", po::value<std::string>()->default_value("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"),
       "comma-separated target modules")
      ("mask-rate", po::value<float>()->default_value(0.8f), "MNTP masking rate (Mistral 0.8, Llama 0.2)")
      ("mask-mode", po::value<std::string>()->default_value("all-mask"), "all-mask | bert (80/10/10)")
      ("compute", po::value<std::string>()->default_value(""),
       "f32 | bf16 | auto: the projections' matrix products (default: $BG2VEC_COMPUTE, else bf16 where the CPU has "
       "AVX512-BF16); weights train in float32 either way")
      ("mask-token", po::value<std::string>()->default_value("_"), "MNTP mask token, as a piece")
      ("mask-token-id", po::value<int>(), "or as an id")
      ("temperature", po::value<float>()->default_value(0.05f), "SimCSE temperature")
      ("dropout", po::value<float>()->default_value(0.3f), "SimCSE attention-probability dropout")
      ("val-every", po::value<int>()->default_value(0), "validation loss every N steps (0: off)")
      ("val-batches", po::value<int>()->default_value(4), "batches per validation")
      ("checkpoint-every", po::value<int>()->default_value(100), "checkpoint every N steps")
      ("activation-checkpointing", po::bool_switch(), "recompute each layer's forward in backward (less memory)")
      ("overwrite", po::bool_switch(), "write into --out although it holds other files (a checkpoint there is resumed anyway)")
      ("no-resource-check", po::bool_switch(), "start even where the memory or disk estimate says the run will not fit")
      ("no-progress", po::bool_switch(), "no progress line");
  po::variables_map vm;
  if (!parse("train", "Train with NTP, MNTP or SimCSE; resumes from <out>/checkpoint when there is one.", options, args, vm))
    return 0;
  const std::string objective = vm["objective"].as<std::string>();
  const std::filesystem::path out = vm["out"].as<std::string>();
  if (vm.count("model") == vm.count("init-config")) fail("give exactly one of --model and --init-config");
  if (vm.count("shards") == vm.count("text-file")) fail("give exactly one of --shards and --text-file");
  const int batch_size = vm["batch-size"].as<int>(), seq_len = vm["seq-len"].as<int>(), steps = vm["steps"].as<int>(),
            accumulation = vm["accumulation"].as<int>();
  require(batch_size > 0 && seq_len > 1 && steps > 0 && accumulation > 0, "--batch-size, --seq-len, --steps, --accumulation must be positive");
  const uint64_t seed = vm["seed"].as<uint64_t>();

  // The output folder, before any work: a folder of other files is not written into unless asked, a run
  // resumes from its checkpoint, and the lock (held to the end) proves the folder writable and ours alone.
  if (holds_other_files(out) && !vm["overwrite"].as<bool>())
    fail(out, "already exists and holds files but no checkpoint to resume (--overwrite writes into it anyway)");
  const FolderLock lock(out);

  // The model's configuration, then the memory and disk the run needs against what is free, then the weights.
  std::filesystem::path model_dir = vm.count("model") ? std::filesystem::path(vm["model"].as<std::string>()) : "";
  const io::ModelConfig model_config = [&] {
    if (!model_dir.empty()) return load_model_config(model_dir);
    const std::filesystem::path cfg = vm["init-config"].as<std::string>();
    std::ifstream in(cfg);
    if (!in) fail(cfg, "cannot open");
    nlohmann::json j;
    try { j = nlohmann::json::parse(in); } catch (const nlohmann::json::exception& e) { fail(cfg, std::string("not valid JSON: ") + e.what()); }
    return io::parse_config(j, cfg);
  }();
  if (!vm["no-resource-check"].as<bool>()) check_resources(model_config, vm, objective, model_dir, out);
  Model model = [&] {
    if (!model_dir.empty()) return load_model(model_dir);
    Model m(model_config);
    train::initialise(m, seed);
    return m;
  }();
  const auto& config = model.config();
  // --tokenizer, else the model's own (a folder's tokenizer.model, or a GGUF file's vocabulary).
  std::shared_ptr<const text::Tokenizer> tokenizer;
  if (vm.count("tokenizer")) tokenizer = std::make_shared<text::Tokenizer>(std::filesystem::path(vm["tokenizer"].as<std::string>()));
  else if (!model_dir.empty() && has_tokenizer(model_dir)) tokenizer = std::make_shared<text::Tokenizer>(load_tokenizer(model_dir));

  // The data.
  std::unique_ptr<train::BatchSource> data, val;
  if (vm.count("shards")) {
    const std::filesystem::path dir = vm["shards"].as<std::string>();
    auto shards = std::make_unique<train::ShardBatches>(dir, "train", batch_size, seq_len, seed);
    if (shards->vocab_size() > uint32_t(config.vocab_size))
      fail(dir, "the shards' vocabulary (" + std::to_string(shards->vocab_size()) + ") is larger than the model's (" +
                    std::to_string(config.vocab_size) + ")");
    data = std::move(shards);
    if (std::filesystem::exists(data::shard_path(dir, "val", 0)))
      val = std::make_unique<train::ShardBatches>(dir, "val", batch_size, seq_len, seed + 1);
  } else {
    if (!tokenizer) fail("--text-file needs a tokenizer: give --tokenizer, or a model with one");
    data = std::make_unique<train::TextBatches>(vm["text-file"].as<std::string>(), tokenizer, batch_size, seq_len, seed,
                                                vm["group-by-length"].as<bool>());
    if (vm.count("val-text-file"))
      val = std::make_unique<train::TextBatches>(vm["val-text-file"].as<std::string>(), tokenizer, batch_size, seq_len, seed + 1);
  }

  // MNTP masking.
  train::MaskingConfig masking;
  masking.rate = vm["mask-rate"].as<float>();
  masking.mode = train::MaskingConfig::parse_mode(vm["mask-mode"].as<std::string>());
  masking.special_ids = {config.bos_token_id, config.eos_token_id, config.pad_token_id};
  if (objective == "mntp") {
    if (vm.count("mask-token-id")) masking.mask_id = vm["mask-token-id"].as<int>();
    else if (tokenizer) masking.mask_id = tokenizer->piece_to_id(vm["mask-token"].as<std::string>());
    else fail("mntp needs --mask-token-id, or a tokenizer to look up --mask-token");
  }
  auto make_batch = [&](train::BatchSource& src, uint64_t index) {
    TokenBatch t = src.batch(index);
    if (objective == "mntp") return train::mask_tokens(t, masking, config.vocab_size, seed ^ Dropout::mix(index));
    return train::TrainBatch{std::move(t), {}, {}};
  };

  // LoRA.
  std::optional<LoraAdapter> lora;
  if (const int rank = vm["lora-rank"].as<int>(); rank > 0) {
    lora.emplace(config, LoraConfig{rank, vm["lora-alpha"].as<float>(), vm["lora-dropout"].as<float>(),
                                    split_list(vm["lora-targets"].as<std::string>())});
    lora->initialise(seed);
  }

  train::TrainerOptions opts;
  opts.optimizer = vm["optimizer"].as<std::string>();
  opts.adamw.weight_decay = vm["weight-decay"].as<float>();
  opts.clip = vm["clip"].as<double>();
  opts.lora_dropout = lora ? lora->config().dropout : 0.0f;
  opts.memory = vm["activation-checkpointing"].as<bool>() ? ActivationMemory::LayerInputs : ActivationMemory::AllLayers;
  opts.seed = seed;
  opts.compute = compute_choice(vm);
  const train::Schedule schedule{train::Schedule::parse(vm["schedule"].as<std::string>()), vm["lr"].as<float>(),
                                 vm["warmup"].as<int>(), steps};
  const int val_every = vm["val-every"].as<int>(), val_batches = vm["val-batches"].as<int>(),
            checkpoint_every = vm["checkpoint-every"].as<int>();

  const std::string attention_name = vm["attention"].as<std::string>();
  return train::with_objective(objective, [&]<class O>() {
    auto run = [&]<class Attn>() {
      O obj{};
      if constexpr (std::is_same_v<O, train::SimCse>) obj = {.temperature = vm["temperature"].as<float>(), .dropout = vm["dropout"].as<float>()};
      train::Trainer<O, Attn> trainer(model, obj, opts, lora ? &*lora : nullptr);
      std::filesystem::create_directories(out);
      const auto log_file = out / "train_log.jsonl";
      if (auto ckpt = train::find_checkpoint(out)) {
        const auto state = train::load_checkpoint(*ckpt, trainer.trainable(), trainer.adamw(), objective);
        if (state.seed != seed) fail(*ckpt / "trainer_state.json", "the checkpoint was made with --seed " + std::to_string(state.seed));
        trainer.resume_at(state.step);
        trim_log(log_file, state.step);
        std::fprintf(stderr, "resuming from %s at step %lld\n", ckpt->c_str(), (long long)state.step);
      } else {
        trim_log(log_file, 0);
      }
      std::ofstream log(log_file, std::ios::app);
      Progress progress("train " + objective, steps, "steps");
      const auto start = std::chrono::steady_clock::now();
      double tokens = 0, last_loss = 0;
      const int64_t first = trainer.steps_done();
      for (int64_t s = first; s < steps; ++s) {
        std::vector<train::TrainBatch> micro;
        for (int k = 0; k < accumulation; ++k) micro.push_back(make_batch(*data, uint64_t(s) * uint64_t(accumulation) + uint64_t(k)));
        for (const auto& m : micro) tokens += double(m.tokens.tokens());
        const float lr = schedule.at(int(s));
        last_loss = trainer.step(micro, lr);
        if (!std::isfinite(last_loss)) fail("the loss became " + std::to_string(last_loss) + " at step " + std::to_string(s + 1) + " (lower --lr?)");
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        nlohmann::json line = {{"step", s + 1}, {"loss", last_loss}, {"lr", lr}, {"grad_norm", trainer.last_grad_norm()},
                               {"tokens_per_s", tokens / std::max(secs, 1e-9)}};
        if (val && val_every > 0 && ((s + 1) % val_every == 0 || s + 1 == steps)) {
          double v = 0;
          for (int i = 0; i < val_batches; ++i) v += trainer.evaluate(make_batch(*val, uint64_t(i))) / val_batches;
          line["val_loss"] = v;
        }
        log << line.dump() << "\n" << std::flush;
        if ((checkpoint_every > 0 && (s + 1) % checkpoint_every == 0) || s + 1 == steps)
          train::save_checkpoint(out, trainer.trainable(), trainer.adamw(), {s + 1, seed, objective});
        char extra[96];
        std::snprintf(extra, sizeof extra, "loss %.4f  %.0f tok/s", last_loss, tokens / std::max(secs, 1e-9));
        if (!vm["no-progress"].as<bool>()) progress.update(double(s + 1 - first), extra);
      }
      if (!vm["no-progress"].as<bool>()) progress.finish();

      // The result: an HF folder transformers loads (LoRA merged; the adapter itself in out/adapter).
      if (lora) {
        peft::save_adapter(*lora, out / "adapter", model_dir.string());
        merge_lora(model.weights(), *lora);
      }
      save_model(model, out);
      if (tokenizer) tokenizer->save(out / "tokenizer.model");
      EncoderSettings settings;
      settings.attention = std::string(Attn::name);
      settings.pooling = std::is_same_v<O, train::Ntp> ? "weighted-mean" : "mean";
      settings.save(out);
      std::printf("%s: %d steps, final loss %.4f, wrote %s\n", objective.c_str(), steps, last_loss, out.c_str());
      return 0;
    };
    // Only SimCSE makes sense under both attentions; the others train the attention they are defined by.
    if constexpr (std::is_same_v<O, train::SimCse>) {
      if (!attention_name.empty()) return with_attention(attention_name, run);
    } else if (!attention_name.empty() && attention_name != O::attention::name) {
      fail(objective + " trains " + std::string(O::attention::name) + " attention only, not '" + attention_name + "'");
    }
    return run.template operator()<typename O::attention>();
  });
}

const Command registered_train{"train", "train with NTP, MNTP or SimCSE (shards or text; full or LoRA; resumable)", train_command};

}  // namespace
}  // namespace bg2vec::cli
