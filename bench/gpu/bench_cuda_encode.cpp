// Encode throughput on the GPU (forward + mean pooling, bidirectional; backend/cuda/decoder.hpp) of a
// Mistral-shaped model with random N(0, 0.02) weights, on random ids with every token real: the issue's
// "embedding forward" benchmark (#16), whose peer is bench/gpu/peer_encode.py in the same run (bench/gpu/run.sh).
//   bench_cuda_encode [--layers 12 --hidden 768 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000]
//                     [--batch 16 --seq-len 512 --iters 20] [--mode bf16|f32|both]
//                     [--save-model DIR] [--save-ids FILE] [--save-embeddings FILE] [--json FILE]
// --save-model writes the random model in HF layout and --save-ids the batch, so that the peer runs the same
// weights on the same ids; --save-embeddings the pooled embeddings of each mode, which the peer compares.
// No Boost here: the GPU machine has only the carried headers.
#include <bg2vec/backend/cuda/decoder.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/model.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>

using namespace bg2vec;
namespace cu = bg2vec::backend::cuda;

namespace {

struct Args {
  std::map<std::string, std::string> values = {
      {"layers", "12"}, {"hidden", "768"}, {"heads", "12"}, {"kv-heads", "4"}, {"ffn", "2048"}, {"vocab", "32000"},
      {"batch", "16"}, {"seq-len", "512"}, {"iters", "20"}, {"mode", "both"}, {"save-model", ""}, {"save-ids", ""},
      {"save-embeddings", ""}, {"json", ""}};
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string key = std::string(argv[i]).substr(2);
      if (std::string(argv[i]).rfind("--", 0) != 0 || !values.count(key) || i + 1 >= argc)
        fail("bench_cuda_encode: unknown or incomplete option '" + std::string(argv[i]) + "' (see the file's first lines)");
      values[key] = argv[++i];
    }
  }
  int integer(const std::string& k) const { return std::stoi(values.at(k)); }
  const std::string& text(const std::string& k) const { return values.at(k); }
};

template <class T>
nlohmann::json run(const Model& model, const TokenBatch& batch, int iters, Matrix& embeddings) {
  size_t free_before = 0, total = 0;
  cu::check(cudaMemGetInfo(&free_before, &total), "reading the device memory");
  cu::DeviceDecoder<T> gpu(model);
  embeddings = gpu.template embed<Bidirectional, pool::Mean>(batch);   // warm-up: sizes the arena, plans the products
  size_t free_after = 0;
  cu::check(cudaMemGetInfo(&free_after, &total), "reading the device memory");
  std::vector<double> seconds;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    embeddings = gpu.template embed<Bidirectional, pool::Mean>(batch);   // ends with the download: synchronous
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2], tokens = double(batch.tokens());
  return {{"mode", std::is_same_v<T, cu::Bf16> ? "bf16" : "f32"},
          {"median_s", median},
          {"best_s", seconds.front()},
          {"tokens_per_s", tokens / median},
          {"parameter_mib", double(gpu.parameter_bytes()) / (1 << 20)},
          {"activation_mib", double(gpu.activation_bytes()) / (1 << 20)},
          {"device_mib_used", double(free_before - free_after) / (1 << 20)}};
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a(argc, argv);
  if (cu::device_count() == 0) fail("bench_cuda_encode: no GPU");
  io::ModelConfig c;
  c.architecture = "MistralForCausalLM";
  c.num_layers = a.integer("layers");
  c.hidden_size = a.integer("hidden");
  c.num_heads = a.integer("heads");
  c.num_kv_heads = a.integer("kv-heads");
  c.head_dim = c.hidden_size / c.num_heads;
  c.intermediate_size = a.integer("ffn");
  c.vocab_size = a.integer("vocab");
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = std::max(a.integer("seq-len"), 256);
  Model model(c);
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (float& p : model.parameters()) p = normal(rng);

  const int B = a.integer("batch"), T = a.integer("seq-len");
  TokenBatch batch{B, T, std::vector<int32_t>(size_t(B) * T), std::vector<uint8_t>(size_t(B) * T, 1), {}};
  std::uniform_int_distribution<int> token(4, c.vocab_size - 1);
  for (auto& id : batch.ids) id = token(rng);

  if (!a.text("save-model").empty()) save_model(model, a.text("save-model"));
  if (!a.text("save-ids").empty()) {
    io::SafetensorsWriter ids;
    const std::vector<int64_t> i64(batch.ids.begin(), batch.ids.end()), m64(batch.mask.begin(), batch.mask.end());
    ids.add("input_ids", {B, T}, std::span<const int64_t>(i64));
    ids.add("attention_mask", {B, T}, std::span<const int64_t>(m64));
    ids.save(a.text("save-ids"));
  }

  const std::string mode = a.text("mode");
  nlohmann::json out = {{"bench", "encode"},
                        {"params_m", double(model.parameter_count()) / 1e6},
                        {"batch", B},
                        {"seq_len", T},
                        {"attention", "bidirectional"},
                        {"pooling", "mean"},
                        {"runs", nlohmann::json::array()}};
  io::SafetensorsWriter saved;
  Matrix e;
  if (mode == "bf16" || mode == "both") {
    out["runs"].push_back(run<cu::Bf16>(model, batch, a.integer("iters"), e));
    saved.add("embeddings_bf16", {B, c.hidden_size}, std::span<const float>(e.data(), size_t(e.size())));
  }
  if (mode == "f32" || mode == "both") {
    out["runs"].push_back(run<float>(model, batch, a.integer("iters"), e));
    saved.add("embeddings_f32", {B, c.hidden_size}, std::span<const float>(e.data(), size_t(e.size())));
  }
  if (!a.text("save-embeddings").empty()) saved.save(a.text("save-embeddings"));
  std::cout << out.dump(2) << "\n";
  if (!a.text("json").empty()) std::ofstream(a.text("json")) << out.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
