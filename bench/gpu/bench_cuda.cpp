// The GPU benchmarks of issue #16 (cuda/decoder.hpp) on a Mistral-shaped model with random N(0, 0.02)
// weights and random ids, every token real; their peers run in the same bench/gpu/run.sh:
//   --bench encode   forward + mean pooling, bidirectional (peer: bench/gpu/peer_encode.py)
//   --bench mntp     one full fine-tuning MNTP step: forward, the lm_head's cross-entropy at the masked
//                    positions (--mask-rate of them, the ids there replaced by a mask id), backward, AdamW
//                    (peer: bench/gpu/peer_mntp.py)
//   --bench lora-mntp the same step training a LoRA adapter alone (rank --lora-rank on all seven projections,
//                    alpha 2 x rank, dropout 0.05, PEFT's initialisation), the base frozen (no peer yet: PEFT
//                    may be missing on the GPU machine)
//   --bench lora-simcse one SimCSE step training that adapter: both views of the batch (the same ids) with
//                    attention dropout 0.3, mean pooling, InfoNCE at temperature 0.05, backward, AdamW
//                    (--simcse-batch x --simcse-seq-len, the recipe's 128 x 128; no peer yet)
//   bench_cuda [--bench encode,mntp] [--layers 12 --hidden 768 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000]
//              [--batch 16 --seq-len 512 --iters 20 --mask-rate 0.2 --lora-rank 16] [--mode bf16|f32|both]
//              [--save-model DIR] [--save-ids FILE] [--save-embeddings FILE] [--json FILE]
// --save-model writes the random model in HF layout and --save-ids the batch (input_ids, attention_mask, and for
// MNTP mntp_input_ids and labels), so that the peers run the same weights on the same ids; --save-embeddings the
// pooled embeddings of each mode, which the encode peer compares. No Boost here: the GPU machine has only the
// carried headers.
#include <bg2vec/cuda/decoder.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/lora.hpp>
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
namespace cu = bg2vec::cuda;

namespace {

struct Args {
  std::map<std::string, std::string> values = {
      {"layers", "12"}, {"hidden", "768"}, {"heads", "12"}, {"kv-heads", "4"}, {"ffn", "2048"}, {"vocab", "32000"},
      {"batch", "16"}, {"seq-len", "512"}, {"iters", "20"}, {"mode", "both"}, {"save-model", ""}, {"save-ids", ""},
      {"bench", "encode,mntp"}, {"mask-rate", "0.2"}, {"lora-rank", "16"}, {"simcse-batch", "128"}, {"simcse-seq-len", "128"},
      {"save-embeddings", ""}, {"json", ""}};
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string key = std::string(argv[i]).substr(2);
      if (std::string(argv[i]).rfind("--", 0) != 0 || !values.count(key) || i + 1 >= argc)
        fail("bench_cuda: unknown or incomplete option '" + std::string(argv[i]) + "' (see the file's first lines)");
      values[key] = argv[++i];
    }
  }
  int integer(const std::string& k) const { return std::stoi(values.at(k)); }
  double number(const std::string& k) const { return std::stod(values.at(k)); }
  bool has(const std::string& list, const std::string& item) const { return ("," + values.at(list) + ",").find("," + item + ",") != std::string::npos; }
  const std::string& text(const std::string& k) const { return values.at(k); }
};

constexpr const char* mode_name(bool bf16) { return bf16 ? "bf16" : "f32"; }

size_t device_free_bytes() {
  size_t free = 0, total = 0;
  cu::check(cudaMemGetInfo(&free, &total), "reading the device memory");
  return free;
}

// The seconds of each of `iters` calls of f (which ends synchronised with the device), sorted.
template <class F>
std::vector<double> sorted_seconds(int iters, F&& f) {
  std::vector<double> seconds;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds;
}

template <class T>
nlohmann::json run_encode(const Model& model, const TokenBatch& batch, int iters, Matrix& embeddings) {
  const size_t free_before = device_free_bytes();
  cu::DeviceDecoder<T> gpu(model);
  embeddings = gpu.template embed<Bidirectional, pool::Mean>(batch);   // warm-up: sizes the arena, plans the products
  const size_t free_after = device_free_bytes();
  const auto seconds = sorted_seconds(iters, [&] {
    embeddings = gpu.template embed<Bidirectional, pool::Mean>(batch);   // ends with the download: synchronous
  });
  const double median = seconds[seconds.size() / 2], tokens = double(batch.tokens());
  return {{"bench", "encode"},
          {"mode", mode_name(std::is_same_v<T, cu::Bf16>)},
          {"median_s", median},
          {"best_s", seconds.front()},
          {"tokens_per_s", tokens / median},
          {"parameter_mib", double(gpu.parameter_bytes()) / (1 << 20)},
          {"activation_mib", double(gpu.activation_bytes()) / (1 << 20)},
          {"device_mib_used", double(free_before - free_after) / (1 << 20)}};
}

// One step: zero_grad, forward + loss + backward, AdamW; the median of `iters` after two warm-ups. FLOPs for the
// model FLOP utilisation: 6 x parameters without the embedding x tokens for the decoder, the lm_head's 6 V H per
// prediction, and attention's 12 L T^2 d heads per sequence (forward 4, backward 8), as in PaLM's appendix.
// With `lora`, the adapter trains alone (its dropout 0.05) and the FLOPs leave out the base weights' gradients
// (2 of the 6 per parameter and token).
template <class T>
nlohmann::json run_mntp(const Model& model, const TokenBatch& batch, const std::vector<int32_t>& labels, int iters,
                        const LoraAdapter* lora = nullptr) {
  const size_t free_before = device_free_bytes();
  cu::DeviceDecoder<T> gpu(model, /*trainable=*/true, lora);
  if (lora) gpu.set_lora_dropout(lora->config().dropout, 1);
  auto step = [&] {
    gpu.zero_grad();
    const double loss = gpu.template token_prediction<Bidirectional>(batch, labels);
    gpu.adamw_step(5e-5f);
    gpu.synchronize();
    return loss;
  };
  double loss = step();
  loss = step();
  const size_t free_after = device_free_bytes();
  const auto seconds = sorted_seconds(iters, [&] { loss = step(); });
  const auto& c = model.config();
  size_t predictions = 0;
  for (const int32_t y : labels) predictions += y != -100;
  const double median = seconds[seconds.size() / 2], tokens = double(batch.tokens());
  const double decoder_params = double(model.parameter_count()) - 2.0 * c.vocab_size * c.hidden_size;
  const double flops = (lora ? 4 : 6) * decoder_params * tokens + (lora ? 4.0 : 6.0) * c.vocab_size * c.hidden_size * double(predictions) +
                       12.0 * c.num_layers * double(batch.seq_len) * batch.seq_len * c.head_dim * c.num_heads * batch.batch;
  return {{"bench", lora ? "lora-mntp" : "mntp"},
          {"mode", mode_name(std::is_same_v<T, cu::Bf16>)},
          {"median_s", median},
          {"best_s", seconds.front()},
          {"tokens_per_s", tokens / median},
          {"tflops", flops / median / 1e12},
          {"predictions", predictions},
          {"loss", loss},
          {"device_mib_used", double(free_before - free_after) / (1 << 20)}};
}

// One LoRA SimCSE step, timed as run_mntp. FLOPs: two views, each 4 x non-embedding parameters x tokens (the
// base's weight gradients are not computed) and the attention's 12 L T^2 d heads per sequence.
template <class T>
nlohmann::json run_simcse(const Model& model, const TokenBatch& batch, const LoraAdapter& lora, int iters) {
  const size_t free_before = device_free_bytes();
  cu::DeviceDecoder<T> gpu(model, /*trainable=*/true, &lora);
  gpu.set_lora_dropout(lora.config().dropout, 1);
  uint64_t seed = 0;
  auto step = [&] {
    gpu.zero_grad();
    const double loss = gpu.template simcse<Bidirectional, pool::Mean>(batch, batch, 0.05f, 0.3f, seed++);
    gpu.adamw_step(3e-5f);
    gpu.synchronize();
    return loss;
  };
  double loss = step();
  loss = step();
  const size_t free_after = device_free_bytes();
  const auto seconds = sorted_seconds(iters, [&] { loss = step(); });
  const auto& c = model.config();
  const double median = seconds[seconds.size() / 2], tokens = double(batch.tokens());
  const double decoder_params = double(model.parameter_count()) - 2.0 * c.vocab_size * c.hidden_size;
  const double flops = 2 * (4 * decoder_params * tokens +
                            12.0 * c.num_layers * double(batch.seq_len) * batch.seq_len * c.head_dim * c.num_heads * batch.batch);
  return {{"bench", "lora-simcse"},
          {"mode", mode_name(std::is_same_v<T, cu::Bf16>)},
          {"batch", batch.batch},
          {"seq_len", batch.seq_len},
          {"median_s", median},
          {"best_s", seconds.front()},
          {"tokens_per_s", tokens / median},   // sentences x length, each sentence in two views
          {"tflops", flops / median / 1e12},
          {"loss", loss},
          {"device_mib_used", double(free_before - free_after) / (1 << 20)}};
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a(argc, argv);
  if (cu::device_count() == 0) fail("bench_cuda: no GPU");
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

  // MNTP: --mask-rate of the positions after the first are predicted, their ids replaced by the mask id (4)
  TokenBatch masked = batch;
  std::vector<int32_t> labels(batch.ids.size(), -100);
  std::bernoulli_distribution chosen(a.number("mask-rate"));
  for (int b = 0; b < B; ++b)
    for (int t = 1; t < T; ++t)
      if (chosen(rng)) {
        const size_t i = size_t(b) * T + t;
        labels[i] = batch.ids[i];
        masked.ids[i] = 4;
      }

  if (!a.text("save-model").empty()) save_model(model, a.text("save-model"));
  if (!a.text("save-ids").empty()) {
    io::SafetensorsWriter ids;
    auto add = [&ids, B, T](const std::string& name, const auto& v) {
      const std::vector<int64_t> i64(v.begin(), v.end());
      ids.add(name, {B, T}, std::span<const int64_t>(i64));
    };
    add("input_ids", batch.ids);
    add("attention_mask", batch.mask);
    add("mntp_input_ids", masked.ids);
    add("labels", labels);
    ids.save(a.text("save-ids"));
  }

  const std::string mode = a.text("mode");
  const bool bf16 = mode == "bf16" || mode == "both", f32 = mode == "f32" || mode == "both";
  nlohmann::json out = {{"params_m", double(model.parameter_count()) / 1e6},
                        {"batch", B},
                        {"seq_len", T},
                        {"attention", "bidirectional"},
                        {"mask_rate", a.number("mask-rate")},
                        {"runs", nlohmann::json::array()}};
  // each run is written out as it ends: a run cut short by the script's time limit keeps the earlier ones
  auto save = [&out, &a](nlohmann::json run) {
    std::cout << run.dump() << std::endl;
    out["runs"].push_back(std::move(run));
    if (!a.text("json").empty()) std::ofstream(a.text("json")) << out.dump(2) << "\n";
  };
  io::SafetensorsWriter saved;
  Matrix e;
  if (a.has("bench", "encode")) {
    if (bf16) {
      save(run_encode<cu::Bf16>(model, batch, a.integer("iters"), e));
      saved.add("embeddings_bf16", {B, c.hidden_size}, std::span<const float>(e.data(), size_t(e.size())));
    }
    if (f32) {
      save(run_encode<float>(model, batch, a.integer("iters"), e));
      saved.add("embeddings_f32", {B, c.hidden_size}, std::span<const float>(e.data(), size_t(e.size())));
    }
  }
  if (a.has("bench", "mntp")) {
    if (bf16) save(run_mntp<cu::Bf16>(model, masked, labels, a.integer("iters")));
    if (f32) save(run_mntp<float>(model, masked, labels, a.integer("iters")));
  }
  LoraConfig lc;
  lc.rank = a.integer("lora-rank");
  lc.alpha = 2.0f * float(lc.rank);
  lc.dropout = 0.05f;
  LoraAdapter adapter(c, lc);
  adapter.initialise(1);
  if (a.has("bench", "lora-mntp")) {
    if (bf16) save(run_mntp<cu::Bf16>(model, masked, labels, a.integer("iters"), &adapter));
    if (f32) save(run_mntp<float>(model, masked, labels, a.integer("iters"), &adapter));
  }
  if (a.has("bench", "lora-simcse")) {
    const int SB = a.integer("simcse-batch"), ST = a.integer("simcse-seq-len");
    TokenBatch sentences{SB, ST, std::vector<int32_t>(size_t(SB) * ST), std::vector<uint8_t>(size_t(SB) * ST, 1), {}};
    for (auto& id : sentences.ids) id = token(rng);
    if (bf16) save(run_simcse<cu::Bf16>(model, sentences, adapter, a.integer("iters")));
    if (f32) save(run_simcse<float>(model, sentences, adapter, a.integer("iters")));
  }
  if (!a.text("save-embeddings").empty()) saved.save(a.text("save-embeddings"));
  std::cout << out.dump(2) << "\n";
  if (!a.text("json").empty()) std::ofstream(a.text("json")) << out.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
