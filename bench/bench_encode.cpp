// Encode throughput (forward + pooling) of a Mistral-shaped model with random weights, or of a real model
// (--model: an HF folder or a GGUF file) on random token ids. --compute f32|bf16|both: the projections' compute
// type (both: one line each, same batch, same run). Prints one line of figures per compute type (the best and the
// median batch of --iters, and the process's CPU seconds per batch); --json FILE writes them as JSON. --ids FILE
// takes the batch from a safetensors file (input_ids, attention_mask [B, T], as `bg2vec encode --ids`) instead of
// random ids, and --save FILE writes each compute type's embeddings (embeddings_f32, embeddings_bf16) of it, so
// that the agreement with a peer is checked on what was timed.
// bench/peer/compare_encode.sh runs the same shape in PyTorch for the ratio.
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

namespace {
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
}  // namespace

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
      ("iters", po::value<int>()->default_value(5), "timed iterations (after one warm-up)")
      ("model", po::value<std::string>(), "a real model (HF folder or GGUF file) instead of the random one (shape flags ignored)")
      ("pooling", po::value<std::string>()->default_value("mean"), "mean | weighted-mean | last | bos")
      ("compute", po::value<std::string>()->default_value("f32"), "f32 | bf16 | both")
      ("ids", po::value<std::string>(), "the batch from a safetensors file (input_ids, attention_mask [B, T]); --batch/--seq-len ignored")
      ("save", po::value<std::string>(), "write the embeddings of each compute type here (safetensors)")
      ("json", po::value<std::string>(), "also write the figures as JSON");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) { std::cout << options; return 0; }
  po::notify(vm);

  const std::string which = vm["compute"].as<std::string>();
  std::vector<backend::Compute> computes;
  if (which == "both") computes = {backend::Compute::F32, backend::Compute::Bf16};
  else computes = {backend::parse_compute(which)};
  // A real model in one compute type is loaded as `bg2vec encode` loads it (bf16: the projections as bf16 copies
  // only, so the peak RSS is the CLI's); "both" needs the float32 weights for the f32 line.
  std::shared_ptr<const Model> loaded;
  Projections lean_projections;
  if (vm.count("model")) {
    InferenceModel m = load_for_inference(vm["model"].as<std::string>(), computes.size() == 1 ? computes[0] : backend::Compute::F32);
    loaded = std::move(m.model);
    lean_projections = std::move(m.projections);
  }
  io::ModelConfig c;
  if (loaded) {
    c = loaded->config();
  } else {
    c.architecture = "MistralForCausalLM";
    c.num_layers = vm["layers"].as<int>();
    c.hidden_size = vm["hidden"].as<int>();
    c.num_heads = vm["heads"].as<int>();
    c.num_kv_heads = vm["kv-heads"].as<int>();
    c.head_dim = c.hidden_size / c.num_heads;
    c.intermediate_size = vm["ffn"].as<int>();
    c.vocab_size = vm["vocab"].as<int>();
    c.rms_norm_eps = 1e-5;
  }
  std::mt19937 rng(0);
  if (!loaded) {
    auto random = std::make_shared<Model>(c);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float& p : random->parameters()) p = normal(rng);
    loaded = std::move(random);
  }
  const Model& model = *loaded;

  int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>();
  const int iters = vm["iters"].as<int>();
  TokenBatch batch;
  if (vm.count("ids")) {
    const io::SafetensorsFile file(vm["ids"].as<std::string>());
    const Shape shape = file.info("input_ids").shape;
    require(shape.size() == 2 && file.info("attention_mask").shape == shape, "--ids: input_ids and attention_mask must be [B, T]");
    B = int(shape[0]);
    T = int(shape[1]);
    const std::vector<int64_t> ids = file.read_int64("input_ids"), mask = file.read_int64("attention_mask");
    batch = {B, T, std::vector<int32_t>(ids.begin(), ids.end()), std::vector<uint8_t>(mask.begin(), mask.end()), {}};
  } else {
    batch = {B, T, std::vector<int32_t>(size_t(B) * T), std::vector<uint8_t>(size_t(B) * T, 1), {}};
    std::uniform_int_distribution<int> token(4, std::min(c.vocab_size, 200000) - 1);
    for (auto& id : batch.ids) id = token(rng);
  }

  const std::string attention = vm["attention"].as<std::string>(), pooling = vm["pooling"].as<std::string>();
  const double params = double(ParameterLayout(c).total());   // also where the lean model keeps the projections packed
  nlohmann::json out = {{"params_m", params / 1e6}, {"batch", B}, {"seq_len", T},
                        {"attention", attention}, {"threads", Eigen::nbThreads()}};
  Matrix first;
  io::SafetensorsWriter saved;   // copies what it is given
  for (const backend::Compute compute : computes) {
    const Projections projections =
        model.weights().has_projection_weights() ? Projections(model.weights(), compute) : lean_projections;
    // One workspace from batch to batch, as TextEncoder::encode keeps it.
    Activations workspace(model.config(), batch.batch, batch.seq_len, ActivationMemory::OneLayer);
    const Matrix warm = embed(model, batch, attention, pooling, nullptr, projections, &workspace);   // warm-up
    if (vm.count("save"))
      saved.add("embeddings_" + std::string(backend::compute_name(compute)), {warm.rows(), warm.cols()},
                std::span<const float>(warm.data(), size_t(warm.size())));
    std::vector<double> ms;
    const double cpu0 = cpu_seconds();
    for (int i = 0; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      embed(model, batch, attention, pooling, nullptr, projections, &workspace);
      ms.push_back(1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double cpu_ms = 1e3 * (cpu_seconds() - cpu0) / iters;
    std::sort(ms.begin(), ms.end());
    const double best = ms.front(), median = ms[ms.size() / 2];
    std::string agreement;
    if (first.size() == 0) first = warm;
    else agreement = ", embeddings vs f32: max |diff| / max |f32| " +
                     std::to_string((warm - first).cwiseAbs().maxCoeff() / first.cwiseAbs().maxCoeff());
    std::printf("bg2vec encode %s: %.2fM params, batch %d x %d, %s, %d threads: %.0f tokens/s (best %.1f ms/batch, median "
                "%.1f, CPU %.1f ms/batch)%s\n",
                std::string(backend::compute_name(compute)).c_str(), params / 1e6, B, T,
                attention.c_str(), Eigen::nbThreads(), double(B) * T / (best / 1e3), best, median, cpu_ms, agreement.c_str());
    out["runs"].push_back({{"compute", backend::compute_name(compute)}, {"tokens_per_s", double(B) * T / (best / 1e3)},
                           {"best_ms", best}, {"median_ms", median}, {"cpu_ms", cpu_ms}});
  }
  if (vm.count("save")) saved.save(vm["save"].as<std::string>());
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
