// Encode throughput (forward + mean pooling) of a Mistral-shaped model with random weights.
// Prints one line of figures; bench/peer/compare_encode.sh runs the same shape in PyTorch for the ratio.
#include <bg2vec/nn/encoder.hpp>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

namespace po = boost::program_options;
using namespace bg2vec;

int main(int argc, char** argv) {
  po::options_description options("bench_encode options");
  options.add_options()("help,h", "show this help")
      ("layers", po::value<int>()->default_value(4), "decoder layers")
      ("hidden", po::value<int>()->default_value(256), "hidden size")
      ("heads", po::value<int>()->default_value(4), "attention heads")
      ("kv-heads", po::value<int>()->default_value(2), "key/value heads")
      ("ffn", po::value<int>()->default_value(688), "feed-forward size")
      ("vocab", po::value<int>()->default_value(8000), "vocabulary size")
      ("batch", po::value<int>()->default_value(16), "sequences per batch")
      ("seq-len", po::value<int>()->default_value(128), "tokens per sequence")
      ("attention", po::value<std::string>()->default_value("bidirectional"), "causal | bidirectional")
      ("iters", po::value<int>()->default_value(5), "timed iterations (after one warm-up)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) { std::cout << options; return 0; }
  po::notify(vm);

  io::ModelConfig c;
  c.architecture = "MistralForCausalLM";
  c.num_layers = vm["layers"].as<int>();
  c.hidden_size = vm["hidden"].as<int>();
  c.num_heads = vm["heads"].as<int>();
  c.num_kv_heads = vm["kv-heads"].as<int>();
  c.head_dim = c.hidden_size / c.num_heads;
  c.intermediate_size = vm["ffn"].as<int>();
  c.vocab_size = vm["vocab"].as<int>();
  c.rms_norm_eps = 1e-5;
  Model model(c);
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (float& p : model.parameters()) p = normal(rng);

  const int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>(), iters = vm["iters"].as<int>();
  TokenBatch batch{B, T, std::vector<int32_t>(size_t(B) * T), std::vector<uint8_t>(size_t(B) * T, 1), {}};
  std::uniform_int_distribution<int> token(4, c.vocab_size - 1);
  for (auto& id : batch.ids) id = token(rng);

  const std::string attention = vm["attention"].as<std::string>();
  embed(model, batch, attention, "mean");                         // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) embed(model, batch, attention, "mean");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("bg2vec encode: %.2fM params, batch %d x %d, %s, %d threads: %.0f tokens/s (%.1f ms/batch)\n",
              double(model.parameter_count()) / 1e6, B, T, attention.c_str(), Eigen::nbThreads(),
              double(B) * T * iters / seconds, 1e3 * seconds / iters);
  return 0;
}
