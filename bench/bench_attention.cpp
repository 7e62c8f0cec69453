// The tiled attention alone (nn/attention.hpp): forward and backward time at T = 128, 512, 2048 (batch
// --tokens / T), for the attention shapes of Gemma-3-270M (4 heads, 1 kv head, head_dim 256, soft-cap
// none) and the medium Mistral shape (8/4 heads, head_dim 64), bidirectional and causal, with and without
// attention dropout (SimCSE's 0.3), with the tile products in float32 (Eigen) and, where the CPU has
// AVX512-BF16, in bf16 (nn/attention_products.hpp). GFLOP/s count the products of the visible pairs only (QK^T and PV:
// 4 T_visible d per head and row forward; 10 backward, where S and dP are recomputed). Then the
// activation memory of a Gemma-3-270M-shaped training batch (--model for the real config), with the
// per-layer [B*heads*T, T] probabilities that the materialising attention kept, for comparison.
//   bench_attention [--tokens N] [--iters N] [--compute f32|bf16|both] [--model PATH] [--json FILE]
#include <bg2vec/nn/activations.hpp>
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/nn/model.hpp>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

using namespace bg2vec;
namespace po = boost::program_options;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

Matrix random_matrix(Eigen::Index r, Eigen::Index c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  Matrix m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
  return m;
}

struct Figures { double fwd_ms, bwd_ms, fwd_cpu_ms, bwd_cpu_ms, pairs; };

// Best of `iters` (after one warm-up) for forward and backward.
template <AttentionPolicy P, class Products>
Figures measure(int B, int T, const layers::AttentionShape& shape, const Dropout& dropout, int iters) {
  const int d = shape.head_dim;
  TokenBatch batch{B, T, std::vector<int32_t>(size_t(B) * T, 1), std::vector<uint8_t>(size_t(B) * T, 1), {}};
  const Matrix q = random_matrix(Eigen::Index(B) * T, shape.heads * d, 1), k = random_matrix(Eigen::Index(B) * T, shape.kv_heads * d, 2),
               v = random_matrix(Eigen::Index(B) * T, shape.kv_heads * d, 3), d_out = random_matrix(Eigen::Index(B) * T, shape.heads * d, 4);
  Vector lse(Eigen::Index(B) * shape.heads * T);
  Matrix out(q.rows(), q.cols()), dq(q.rows(), q.cols()), dk(k.rows(), k.cols()), dv(v.rows(), v.cols());
  Figures f{1e300, 1e300, 0, 0, 0};
  for (int i = 0; i <= iters; ++i) {
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    layers::attention_forward<P, layers::AttentionTiles, Products>(q, k, v, batch, shape, lse, out, dropout, 1);
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = cpu_seconds();
    layers::attention_backward<P, layers::AttentionTiles, Products>(q, k, v, out, lse, d_out, batch, shape, dq, dk, dv, dropout, 1);
    const auto t2 = std::chrono::steady_clock::now();
    const double c2 = cpu_seconds();
    if (i == 0) continue;
    f.fwd_ms = std::min(f.fwd_ms, 1e3 * std::chrono::duration<double>(t1 - t0).count());
    f.bwd_ms = std::min(f.bwd_ms, 1e3 * std::chrono::duration<double>(t2 - t1).count());
    f.fwd_cpu_ms += 1e3 * (c1 - c0) / iters;
    f.bwd_cpu_ms += 1e3 * (c2 - c1) / iters;
  }
  f.pairs = std::is_same_v<P, Causal> ? double(B) * T * (T + 1) / 2 : double(B) * T * T;   // visible (query, key) pairs
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("bench_attention options");
  options.add_options()("help,h", "show this help")
      ("tokens", po::value<int>()->default_value(4096), "B x T of each run (B = tokens / T)")
      ("iters", po::value<int>()->default_value(3), "timed iterations (after one warm-up)")
      ("compute", po::value<std::string>()->default_value("both"), "the tile products: f32, bf16 or both (bf16 where the CPU can)")
      ("model", po::value<std::string>(), "the model whose training activations to size (default: Gemma-3-270M's shape)")
      ("json", po::value<std::string>(), "also write the figures as JSON");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) { std::cout << options; return 0; }
  po::notify(vm);
  const int tokens = vm["tokens"].as<int>(), iters = vm["iters"].as<int>();
  const std::string compute = vm["compute"].as<std::string>();
  if (compute != "f32" && compute != "bf16" && compute != "both") {
    std::cerr << "bench_attention: --compute must be f32, bf16 or both, not '" << compute << "'\n";
    return 1;
  }
  std::vector<std::string> computes;
  if (compute != "bf16") computes.push_back("f32");
  if (compute != "f32") {
    if (backend::cpu::has_avx512_bf16()) computes.push_back("bf16");
    else std::cerr << "bench_attention: no AVX512-BF16 on this CPU, bf16 left out\n";
  }

  struct Shape { const char* name; layers::AttentionShape shape; };
  const Shape shapes[] = {{"gemma3-270m", {4, 1, 256, std::nullopt, std::nullopt, std::nullopt}},
                          {"mistral-medium", {8, 4, 64, std::nullopt, std::nullopt, std::nullopt}}};
  nlohmann::json out = {{"threads", Eigen::nbThreads()}, {"tokens", tokens},
                        {"tiles", {layers::AttentionTiles::queries, layers::AttentionTiles::keys}}};
  std::printf("tiled attention, %d OpenMP threads, tiles %d x %d, B x T = %d tokens; best of %d; GFLOP/s of the visible pairs\n",
              Eigen::nbThreads(), layers::AttentionTiles::queries, layers::AttentionTiles::keys, tokens, iters);
  std::printf("%-15s %-7s %-13s %7s %5s %5s | %9s %9s %7s | %9s %9s %7s\n", "shape", "compute", "attention", "dropout", "B", "T", "fwd ms",
              "fwd cpu", "GFLOP/s", "bwd ms", "bwd cpu", "GFLOP/s");
  for (const Shape& s : shapes)
    for (const int T : {128, 512, 2048})
      for (const bool causal : {false, true})
        for (const float p : {0.0f, 0.3f})
          for (const std::string& products : computes) {
            const int B = std::max(1, tokens / T);
            const Dropout dropout{p, 7};
            const bool bf16 = products == "bf16";
            const Figures f = causal ? (bf16 ? measure<Causal, layers::Bf16Products>(B, T, s.shape, dropout, iters)
                                             : measure<Causal, layers::F32Products>(B, T, s.shape, dropout, iters))
                                     : (bf16 ? measure<Bidirectional, layers::Bf16Products>(B, T, s.shape, dropout, iters)
                                             : measure<Bidirectional, layers::F32Products>(B, T, s.shape, dropout, iters));
            const double per_pair = double(s.shape.heads) * s.shape.head_dim;
            const double fwd_gflops = 4 * f.pairs * per_pair / (f.fwd_ms * 1e6), bwd_gflops = 10 * f.pairs * per_pair / (f.bwd_ms * 1e6);
            std::printf("%-15s %-7s %-13s %7.1f %5d %5d | %9.1f %9.1f %7.1f | %9.1f %9.1f %7.1f\n", s.name, products.c_str(),
                        causal ? "causal" : "bidirectional", p, B, T, f.fwd_ms, f.fwd_cpu_ms, fwd_gflops, f.bwd_ms, f.bwd_cpu_ms,
                        bwd_gflops);
            std::fflush(stdout);
            out["runs"].push_back({{"shape", s.name}, {"compute", products}, {"attention", causal ? "causal" : "bidirectional"}, {"dropout", p},
                                   {"batch", B}, {"seq_len", T}, {"forward_ms", f.fwd_ms}, {"forward_cpu_ms", f.fwd_cpu_ms},
                                   {"forward_gflops", fwd_gflops}, {"backward_ms", f.bwd_ms},
                                   {"backward_cpu_ms", f.bwd_cpu_ms}, {"backward_gflops", bwd_gflops}});
          }

  // Training activations (every layer kept) of B8 x T512, with and without the probabilities.
  io::ModelConfig c;
  if (vm.count("model")) {
    c = load_model(vm["model"].as<std::string>()).config();
  } else {                             // Gemma-3-270M: what the activations' size depends on
    c.architecture = "Gemma3ForCausalLM";
    c.num_layers = 18;
    c.hidden_size = 640;
    c.num_heads = 4;
    c.num_kv_heads = 1;
    c.head_dim = 256;
    c.intermediate_size = 2048;
    c.vocab_size = 262144;
  }
  const int B = 8, T = 512;
  const Activations acts(c, B, T, ActivationMemory::AllLayers);
  const double probs = double(c.num_layers) * B * c.num_heads * T * (T - 1) * sizeof(float);   // [B*heads*T, T] less the lse
  std::printf("\ntraining activations (AllLayers) of %s, %d layers, %d heads, B%d x T%d: %.1f MiB; with the [B*heads*T, T] "
              "probabilities per layer: %.1f MiB\n",
              c.architecture.c_str(), c.num_layers, c.num_heads, B, T, double(acts.bytes()) / (1 << 20),
              (double(acts.bytes()) + probs) / (1 << 20));
  out["activations"] = {{"architecture", c.architecture}, {"batch", B}, {"seq_len", T}, {"bytes", acts.bytes()},
                        {"bytes_with_probabilities", double(acts.bytes()) + probs}};
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
