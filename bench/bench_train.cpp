// Training throughput on the CPU: tokens/s of full steps (forward + backward + AdamW) of a Mistral-shaped
// model with random weights, by default the size the end-to-end demo pretrains (4 layers, hidden 256,
// 4/2 heads, ffn 688, vocab 8000, batch 16 x 128), or of a real model (--model: an HF folder or a GGUF
// file), for NTP, MNTP (80% masked) and SimCSE (two views); --objectives picks some of them.
// --lora R: only a LoRA adapter trains (rank R, alpha 2R, no dropout, on q, k, v, o, gate, up, down; PEFT's init,
// B = 0), as the LLM2Vec recipe's MNTP and SimCSE do; otherwise every parameter trains. --batch-file FILE: the
// MNTP batch from a safetensors file (input_ids, attention_mask, labels, as `bg2vec step` reads), e.g. the one
// bench/peer/make_inputs.py writes for the PyTorch peer; the first (warm-up) step's loss is printed, so that the
// peer's on the same weights and batch can be compared. The peak RSS of the process is printed at the end.
//   bench_train [--steps N] [--batch B] [--seq-len T] [--layers L] [--hidden H] [--heads N] [--kv-heads N]
//               [--ffn F] [--vocab V] [--model PATH] [--objectives ntp,mntp,simcse] [--compute f32|bf16]
//               [--lora R] [--batch-file FILE] [--checkpointing] [--json FILE]
#include <bg2vec/train.hpp>

#include <boost/program_options.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

using namespace bg2vec;
namespace po = boost::program_options;

template <class O>
nlohmann::json measure(Model& model, const train::TrainBatch& batch, O objective, int steps, train::TrainerOptions options,
                       double tokens_per_step, LoraAdapter* lora) {
  train::Trainer<O> trainer(model, objective, options, lora);
  const double first = trainer.step(batch, 1e-4f);               // warm-up: allocations, page faults
  std::vector<double> ms;
  const std::clock_t cpu_start = std::clock();
  double loss = 0;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    loss = trainer.step(batch, 1e-4f);
    ms.push_back(1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // CPU seconds too: on a shared machine the wall clock measures the neighbours as well.
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double best = sorted.front(), median = sorted[sorted.size() / 2];
  const std::string mode = lora ? "lora r" + std::to_string(lora->config().rank) : "full";
  std::printf("%-7s %-4s %-8s %8.0f tokens/s  best %7.1f ms/step, median %7.1f  %6.2f cpu-s/step  (first loss %.6f, last %.6f)\n",
              std::string(O::name).c_str(), std::string(backend::compute_name(options.compute)).c_str(), mode.c_str(),
              tokens_per_step / (best / 1e3), best, median, cpu / steps, first, loss);
  std::fflush(stdout);
  return {{"objective", O::name}, {"compute", backend::compute_name(options.compute)}, {"mode", mode},
          {"tokens_per_s", tokens_per_step / (best / 1e3)}, {"best_ms", best}, {"median_ms", median}, {"ms", ms},
          {"cpu_s_per_step", cpu / steps}, {"first_loss", first}, {"loss", loss}};
}

int main(int argc, char** argv) {
  po::options_description options("bench_train");
  options.add_options()("steps", po::value<int>()->default_value(5))("batch", po::value<int>()->default_value(16))
      ("seq-len", po::value<int>()->default_value(128))("layers", po::value<int>()->default_value(4))
      ("hidden", po::value<int>()->default_value(256))("heads", po::value<int>()->default_value(4))
      ("kv-heads", po::value<int>()->default_value(2))("ffn", po::value<int>(), "default 688 x hidden / 256")
      ("vocab", po::value<int>()->default_value(8000))("model", po::value<std::string>(), "a real model instead")
      ("objectives", po::value<std::string>()->default_value("ntp,mntp,simcse"))
      ("compute", po::value<std::string>()->default_value("f32"), "f32 | bf16")
      ("lora", po::value<int>()->default_value(0), "train a LoRA adapter of this rank only (0: every parameter)")
      ("batch-file", po::value<std::string>(), "the MNTP batch (safetensors: input_ids, attention_mask, labels)")
      ("checkpointing", po::bool_switch())("json", po::value<std::string>());
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  const int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>(), steps = vm["steps"].as<int>(), H = vm["hidden"].as<int>();
  std::optional<Model> loaded;
  if (vm.count("model")) {
    loaded.emplace(load_model(vm["model"].as<std::string>()));
  } else {
    const nlohmann::json j = {{"architectures", {"MistralForCausalLM"}}, {"vocab_size", vm["vocab"].as<int>()},
                              {"hidden_size", H}, {"intermediate_size", vm.count("ffn") ? vm["ffn"].as<int>() : 688 * H / 256},
                              {"num_hidden_layers", vm["layers"].as<int>()}, {"num_attention_heads", vm["heads"].as<int>()},
                              {"num_key_value_heads", vm["kv-heads"].as<int>()}, {"rms_norm_eps", 1e-5}};
    loaded.emplace(io::parse_config(j, "bench"));
    train::initialise(*loaded, 1);
  }
  Model& model = *loaded;
  const auto& c = model.config();
  TokenBatch tokens;
  tokens.batch = B;
  tokens.seq_len = T;
  for (int i = 0; i < B * T; ++i) tokens.ids.push_back(int32_t(3 + Dropout::mix(uint64_t(i)) % uint64_t(std::min(c.vocab_size, 200000) - 10)));
  tokens.mask.assign(tokens.ids.size(), 1);
  train::TrainerOptions trainer_options;
  trainer_options.memory = vm["checkpointing"].as<bool>() ? ActivationMemory::LayerInputs : ActivationMemory::AllLayers;
  trainer_options.compute = backend::parse_compute(vm["compute"].as<std::string>());
  std::printf("model: %zu parameters, %d layers, hidden %d, %d/%d heads; batch %d x %d; %s; %d OpenMP threads%s\n",
              model.parameter_count(), c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, B, T,
              vm["compute"].as<std::string>().c_str(), Eigen::nbThreads(),
              vm["checkpointing"].as<bool>() ? "; activation checkpointing" : "");
  std::optional<LoraAdapter> lora;
  if (const int r = vm["lora"].as<int>(); r > 0) {
    LoraConfig lc;                                                // all seven projections
    lc.rank = r;
    lc.alpha = float(2 * r);
    lc.dropout = 0.0f;
    lora.emplace(c, lc);
    lora->initialise(1);
  }
  LoraAdapter* adapter = lora ? &*lora : nullptr;
  std::optional<train::TrainBatch> file_batch;
  if (vm.count("batch-file")) {
    file_batch.emplace(train::read_train_batch(vm["batch-file"].as<std::string>()));
    train::check_train_batch(*file_batch, c.vocab_size, vm["batch-file"].as<std::string>());
    require(file_batch->tokens.batch == B && file_batch->tokens.seq_len == T,
            "--batch-file holds a " + std::to_string(file_batch->tokens.batch) + " x " +
                std::to_string(file_batch->tokens.seq_len) + " batch; give the same --batch and --seq-len");
  }
  const std::string which = "," + vm["objectives"].as<std::string>() + ",";
  nlohmann::json out = {{"params", model.parameter_count()}, {"batch", B}, {"seq_len", T}, {"threads", Eigen::nbThreads()},
                        {"compute", vm["compute"].as<std::string>()}};
  if (which.find(",ntp,") != std::string::npos)
    out["runs"].push_back(measure(model, {tokens, {}, {}}, train::Ntp{}, steps, trainer_options, B * T, adapter));
  if (which.find(",mntp,") != std::string::npos)
    out["runs"].push_back(measure(model, file_batch ? *file_batch : train::mask_tokens(tokens, {.rate = 0.8f, .mask_id = 3}, c.vocab_size, 1),
                                  train::Mntp{}, steps, trainer_options, B * T, adapter));
  if (which.find(",simcse,") != std::string::npos)
    out["runs"].push_back(measure(model, {tokens, {}, {}}, train::SimCse{}, steps, trainer_options, B * T, adapter));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  out["peak_rss_mib"] = double(usage.ru_maxrss) / 1024.0;
  std::printf("peak RSS %.0f MiB\n", double(usage.ru_maxrss) / 1024.0);
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
