// bg2vec inspect: what a model folder holds (architecture, shapes, parameters, dtypes, memory).
#include "cli.hpp"

#include <bg2vec/gguf.hpp>
#include <bg2vec/io/tensor_store.hpp>
#include <bg2vec/nn/encoder.hpp>

namespace bg2vec::cli {
namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) { bytes /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

int inspect(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("batch", po::value<int>()->default_value(16), "batch size for the activation-memory estimate")
      ("seq-len", po::value<int>()->default_value(512), "sequence length for the activation-memory estimate")
      ("tensors", po::bool_switch(), "list every tensor with its shape and dtype");
  po::variables_map vm;
  if (!parse("inspect", "Describe a model folder: architecture, shapes, parameter count, dtypes and memory.", options, args, vm))
    return 0;
  const std::filesystem::path dir = vm["model"].as<std::string>();
  const int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>();
  require(B > 0 && T > 0, "--batch and --seq-len must be positive");
  // What the weights are stored as: safetensors dtypes, or GGUF's (quantized) types.
  struct Stored { std::string name, type; Shape shape; };
  std::vector<Stored> stored;
  std::map<std::string, size_t> dtype_counts;
  std::map<std::string, double> dtype_bytes;
  double stored_bytes = 0;
  std::string format = "Hugging Face folder (safetensors)";
  const io::ModelConfig c = [&] {
    if (is_gguf(dir)) {
      const gguf::GgufFile file(dir);
      format = "GGUF v" + std::to_string(file.version()) + " (" + std::to_string(file.tensors().size()) + " tensors)";
      for (const auto& t : file.tensors()) {
        stored.push_back({t.name, std::string(gguf::type_name(t.type)), t.shape()});
        dtype_counts[stored.back().type] += size_t(t.elements());
        dtype_bytes[stored.back().type] += double(t.size_bytes);
        stored_bytes += double(t.size_bytes);
      }
      return gguf::model_config(file);
    }
    const io::TensorStore store(dir);
    for (const auto& name : store.names()) {
      const auto& info = store.info(name);
      stored.push_back({name, std::string(dtype_name(info.dtype)), info.shape});
      dtype_counts[stored.back().type] += size_t(info.elements());
      dtype_bytes[stored.back().type] += double(info.end - info.begin);
      stored_bytes += double(info.end - info.begin);
    }
    return io::load_config(dir);
  }();
  const ParameterLayout layout(c);
  const EncoderSettings settings = EncoderSettings::load(dir);
  const double params = double(layout.total());
  // Inference keeps one layer of activations; training keeps all (see nn/activations.hpp).
  const double n = double(B) * T;
  const double per_layer = n * c.hidden_size * 4 + n * 2 + n * (c.q_dim() * 2 + c.kv_dim() * 2) +
                           double(B) * c.num_heads * T * T + n * c.intermediate_size * 3 +
                           (c.post_norms() ? n * c.hidden_size * 2 + n * 2 : 0) +
                           (c.qk_norms() ? n * (c.q_dim() + c.kv_dim()) + n * (c.num_heads + c.num_kv_heads) : 0);
  const double inference = 4 * (params + per_layer + n * c.hidden_size * 2 + n);
  const double training = 4 * (4 * params + per_layer * c.num_layers + n * c.hidden_size * 2 + n + n * c.vocab_size);

  std::printf("model            %s\n", dir.c_str());
  std::printf("format           %s\n", format.c_str());
  std::printf("architecture     %s\n", c.architecture.c_str());
  std::printf("vocabulary       %d\n", c.vocab_size);
  std::printf("hidden           %d (head_dim %d, %d heads, %d kv heads: GQA %d:1)\n", c.hidden_size, c.head_dim, c.num_heads,
              c.num_kv_heads, c.num_heads / c.num_kv_heads);
  std::printf("feed-forward     %d (%s)\n", c.intermediate_size, c.activation() == io::Activation::GeluTanh ? "GeGLU, gelu tanh" : "SwiGLU");
  std::printf("layers           %d\n", c.num_layers);
  if (c.rope_local_theta && *c.rope_local_theta != c.rope_theta)
    std::printf("rope_theta       %g (full-attention layers), %g (sliding layers)\n", c.rope_theta, *c.rope_local_theta);
  else
    std::printf("rope_theta       %g\n", c.rope_theta);
  std::printf("rms_norm_eps     %g\n", c.rms_norm_eps);
  std::string window = "none";
  if (c.sliding_window) {
    int sliding = 0;
    for (int l = 0; l < c.num_layers; ++l) sliding += c.window_of_layer(l).has_value();
    window = std::to_string(*c.sliding_window) + " (causal attention, " + std::to_string(sliding) + " of " +
             std::to_string(c.num_layers) + " layers)";
  }
  std::printf("sliding window   %s\n", window.c_str());
  if (c.is_gemma()) {
    auto cap = [](const std::optional<double>& v) { return v ? std::to_string(int(*v)) : std::string("none"); };
    std::printf("%s          embeddings x %.4g, norms x (1 + w) also on attention/MLP outputs%s, scores x %.4g, "
                "soft-caps: attention %s, logits %s\n",
                c.is_gemma3() ? "gemma-3" : "gemma-2", c.embedding_scale(),
                c.qk_norms() ? " and on each head of q and k (before RoPE)" : "", c.attention_scale(),
                cap(c.attn_logit_softcapping).c_str(), cap(c.final_logit_softcapping).c_str());
  }
  std::printf("embeddings       %s\n", c.tie_word_embeddings ? "tied to lm_head" : "separate lm_head");
  std::printf("parameters       %.0f (%.2fM)\n", params, params / 1e6);
  std::printf("stored as        ");
  for (const auto& [dtype, count] : dtype_counts)
    std::printf("%s: %zu (%s)  ", dtype.c_str(), count, human_bytes(dtype_bytes[dtype]).c_str());
  std::printf("(%s on disk)\n", human_bytes(stored_bytes).c_str());
  std::printf("encoder          %s attention, %s pooling%s\n", settings.attention.c_str(), settings.pooling.c_str(),
              std::filesystem::exists(dir / "bg2vec.json") ? " (bg2vec.json)" : " (defaults: no bg2vec.json)");
  std::printf("memory, float32  weights %s; encode %d x %d: %s; full training step %d x %d: ~%s\n",
              human_bytes(4 * params).c_str(), B, T, human_bytes(inference).c_str(), B, T, human_bytes(training).c_str());
  if (vm["tensors"].as<bool>())
    for (const auto& t : stored) std::printf("  %-60s %-5s %s\n", t.name.c_str(), t.type.c_str(), io::shape_string(t.shape).c_str());
  return 0;
}

const Command registered{"inspect", "describe a model folder: architecture, shapes, parameters, memory", inspect};

}  // namespace
}  // namespace bg2vec::cli
