// Training throughput on the CPU: tokens/s of full steps (forward + backward + AdamW) of a small
// Mistral-shaped model, the size the end-to-end demo pretrains (4 layers, hidden 256, 4/2 heads,
// ffn 688, vocab 8000, batch 16 x 128), for NTP, MNTP (80% masked) and SimCSE (two views).
//   bench_train [--steps N] [--batch B] [--seq-len T] [--layers L] [--hidden H] [--checkpointing]
#include <bg2vec/train.hpp>

#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>

using namespace bg2vec;
namespace po = boost::program_options;

template <class O>
void measure(Model& model, const train::TrainBatch& batch, O objective, int steps, ActivationMemory memory, double tokens_per_step) {
  train::TrainerOptions options;
  options.memory = memory;
  train::Trainer<O> trainer(model, objective, options);
  trainer.step(batch, 1e-4f);                                     // warm-up: allocations, page faults
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  double loss = 0;
  for (int s = 0; s < steps; ++s) loss = trainer.step(batch, 1e-4f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // CPU seconds too: on a shared machine the wall clock measures the neighbours as well.
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::printf("%-7s %8.0f tokens/s  %7.1f ms/step  %6.2f cpu-s/step  (loss %.3f)\n", std::string(O::name).c_str(),
              tokens_per_step * steps / secs, 1e3 * secs / steps, cpu / steps, loss);
}

int main(int argc, char** argv) {
  po::options_description options("bench_train");
  options.add_options()("steps", po::value<int>()->default_value(5))("batch", po::value<int>()->default_value(16))
      ("seq-len", po::value<int>()->default_value(128))("layers", po::value<int>()->default_value(4))
      ("hidden", po::value<int>()->default_value(256))("checkpointing", po::bool_switch());
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  const int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>(), steps = vm["steps"].as<int>(), H = vm["hidden"].as<int>();
  const nlohmann::json j = {{"architectures", {"MistralForCausalLM"}}, {"vocab_size", 8000}, {"hidden_size", H},
                            {"intermediate_size", 688 * H / 256}, {"num_hidden_layers", vm["layers"].as<int>()},
                            {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5}};
  Model model(io::parse_config(j, "bench"));
  train::initialise(model, 1);
  TokenBatch tokens;
  tokens.batch = B;
  tokens.seq_len = T;
  for (int i = 0; i < B * T; ++i) tokens.ids.push_back(int32_t(3 + Dropout::mix(uint64_t(i)) % 7990));
  tokens.mask.assign(tokens.ids.size(), 1);
  const ActivationMemory memory = vm["checkpointing"].as<bool>() ? ActivationMemory::LayerInputs : ActivationMemory::AllLayers;
  std::printf("model: %zu parameters, %d layers, hidden %d; batch %d x %d; %d OpenMP threads%s\n", model.parameter_count(),
              model.config().num_layers, H, B, T, Eigen::nbThreads(), vm["checkpointing"].as<bool>() ? "; activation checkpointing" : "");
  measure(model, {tokens, {}, {}}, train::Ntp{}, steps, memory, B * T);
  measure(model, train::mask_tokens(tokens, {.rate = 0.8f, .mask_id = 3}, 8000, 1), train::Mntp{}, steps, memory, B * T);
  measure(model, {tokens, {}, {}}, train::SimCse{}, steps, memory, B * T);
  return 0;
}
