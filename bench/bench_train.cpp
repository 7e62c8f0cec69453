// Training throughput on the CPU: tokens/s of full steps (forward + backward + AdamW) of a Mistral-shaped
// model with random weights, by default the size the end-to-end demo pretrains (4 layers, hidden 256,
// 4/2 heads, ffn 688, vocab 8000, batch 16 x 128), or of a real model (--model: an HF folder or a GGUF
// file), for NTP, MNTP (80% masked) and SimCSE (two views); --objectives picks some of them.
//   bench_train [--steps N] [--batch B] [--seq-len T] [--layers L] [--hidden H] [--heads N] [--kv-heads N]
//               [--ffn F] [--vocab V] [--model PATH] [--objectives ntp,mntp,simcse] [--compute f32|bf16]
//               [--checkpointing] [--json FILE]
#include <bg2vec/train.hpp>

#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>

using namespace bg2vec;
namespace po = boost::program_options;

template <class O>
nlohmann::json measure(Model& model, const train::TrainBatch& batch, O objective, int steps, train::TrainerOptions options,
                       double tokens_per_step) {
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
  std::fflush(stdout);
  return {{"objective", O::name}, {"tokens_per_s", tokens_per_step * steps / secs}, {"ms_per_step", 1e3 * secs / steps},
          {"cpu_s_per_step", cpu / steps}, {"loss", loss}};
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
  const std::string which = "," + vm["objectives"].as<std::string>() + ",";
  nlohmann::json out = {{"params", model.parameter_count()}, {"batch", B}, {"seq_len", T}, {"threads", Eigen::nbThreads()},
                        {"compute", vm["compute"].as<std::string>()}};
  if (which.find(",ntp,") != std::string::npos)
    out["runs"].push_back(measure(model, {tokens, {}, {}}, train::Ntp{}, steps, trainer_options, B * T));
  if (which.find(",mntp,") != std::string::npos)
    out["runs"].push_back(measure(model, train::mask_tokens(tokens, {.rate = 0.8f, .mask_id = 3}, c.vocab_size, 1),
                                  train::Mntp{}, steps, trainer_options, B * T));
  if (which.find(",simcse,") != std::string::npos)
    out["runs"].push_back(measure(model, {tokens, {}, {}}, train::SimCse{}, steps, trainer_options, B * T));
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
