// bg2vec inspect: what a model folder holds (architecture, shapes, parameters, dtypes, memory).
#include "cli.hpp"

#include <bg2vec/gguf.hpp>
#include <bg2vec/io/tensor_store.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/memory_estimate.hpp>

#include <unistd.h>

#include <fstream>

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

// Peak resident memory of encoding and of one MNTP step (full and LoRA), from the shapes (nn/memory_estimate.hpp),
// against this machine's RAM.
void print_memory(const io::ModelConfig& c, backend::Compute compute, int B, int T, int rank, bool checkpointing,
                  double file_bytes) {
  const bool bf16 = compute == backend::Compute::Bf16;
  std::printf("memory estimate  %s (%s), batch %d x %d; peak resident bytes of the buffers (program and libraries not "
              "counted)%s\n",
              std::string(backend::compute_name(compute)).c_str(),
              bf16 ? "encode: the seven projections as bf16 copies only; training: float32 master weights + bf16 packed copies"
                   : "float32 weights",
              B, T, bf16 && !backend::cpu::has_avx512_bf16() ? "; this CPU cannot run bf16 (no AVX512-BF16)" : "");
  auto line = [](const char* what, const memory::Estimate& e) {
    const memory::Phase& p = e.peak_phase();
    std::string parts;
    for (const auto& item : p.items) parts += (parts.empty() ? "" : ", ") + item.what + " " + human_bytes(item.bytes);
    std::printf("  %-22s %.0f B (%s) at %s: %s\n", what, p.bytes(), human_bytes(p.bytes()).c_str(), p.name.c_str(),
                parts.c_str());
    return p.bytes();
  };
  memory::StepShape full;
  full.batch = B;
  full.seq_len = T;
  full.memory = checkpointing ? ActivationMemory::LayerInputs : ActivationMemory::AllLayers;
  memory::StepShape lora = full;
  lora.lora = true;
  lora.lora_config.rank = rank;
  const double encode = line("encode", memory::inference(c, compute, B, T, file_bytes));
  const double step_full = line("MNTP step, full", memory::training(c, compute, full, file_bytes));
  const std::string lora_name = "MNTP step, LoRA r" + std::to_string(rank);
  const double step_lora = line(lora_name.c_str(), memory::training(c, compute, lora, file_bytes));
  const double ram = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  // What other programs leave: MemAvailable (free memory plus the page cache that can be reclaimed), where Linux has it.
  std::string available;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    double kib = 0;
    meminfo >> kib;
    if (key == "MemAvailable:") available = "; " + human_bytes(kib * 1024) + " available now";
    meminfo.ignore(1 << 20, '\n');
  }
  auto fits = [&](double need) { return need < ram ? "fits" : "does not fit"; };
  std::printf("  %-22s %.0f B (%s%s): encode %s, full step %s, LoRA step %s\n", "RAM of this machine", ram,
              human_bytes(ram).c_str(), available.c_str(), fits(encode), fits(step_full), fits(step_lora));
}

int inspect(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("batch", po::value<int>()->default_value(16), "batch size for the memory estimate")
      ("seq-len", po::value<int>()->default_value(512), "sequence length for the memory estimate")
      ("compute", po::value<std::string>()->default_value("auto"),
       "f32 | bf16 | auto: the compute type the memory estimate is for (auto: bf16 where this CPU has AVX512-BF16); "
       "bf16 may be estimated on any CPU")
      ("lora-rank", po::value<int>()->default_value(16), "LoRA rank of the adapter step's estimate (all seven projections)")
      ("checkpointing", po::bool_switch(), "estimate the steps with activation checkpointing (only layer inputs kept)")
      ("tensors", po::bool_switch(), "list every tensor with its shape and dtype");
  po::variables_map vm;
  if (!parse("inspect", "Describe a model folder: architecture, shapes, parameter count, dtypes and memory.", options, args, vm))
    return 0;
  const std::filesystem::path dir = vm["model"].as<std::string>();
  const int B = vm["batch"].as<int>(), T = vm["seq-len"].as<int>();
  require(B > 0 && T > 0, "--batch and --seq-len must be positive");
  const int rank = vm["lora-rank"].as<int>();
  require(rank > 0, "--lora-rank must be positive");
  // Not parse_compute: an estimate for bf16 is worth having on a CPU that cannot run it.
  const std::string compute_arg = vm["compute"].as<std::string>();
  backend::Compute compute;
  if (compute_arg == "auto") compute = backend::default_compute();
  else if (compute_arg == "f32" || compute_arg == "float32") compute = backend::Compute::F32;
  else if (compute_arg == "bf16" || compute_arg == "bfloat16") compute = backend::Compute::Bf16;
  else fail("unknown compute type '" + compute_arg + "' (expected f32, bf16 or auto)");
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
    if (!std::filesystem::exists(dir / "model.safetensors") && !std::filesystem::exists(dir / "model.safetensors.index.json") &&
        std::filesystem::exists(dir / "config.json")) {
      format = "config.json only (no weights: shapes and estimates from the configuration)";
      return io::load_config(dir);
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
  print_memory(c, compute, B, T, rank, vm["checkpointing"].as<bool>(), stored_bytes);
  if (vm["tensors"].as<bool>())
    for (const auto& t : stored) std::printf("  %-60s %-5s %s\n", t.name.c_str(), t.type.c_str(), io::shape_string(t.shape).c_str());
  return 0;
}

const Command registered_inspect{"inspect", "describe a model folder: architecture, shapes, parameters, memory", inspect};

}  // namespace
}  // namespace bg2vec::cli
