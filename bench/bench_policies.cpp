// Does a user-defined attention policy cost anything at run time? Tiled attention forward + backward
// (Gemma-3-270M's attention shape by default) under built-in policies and user policies that give the same
// mask, measured side by side: the policies take turns, round after round, so that load from other
// processes falls on all of them alike (the order rotating from round to round); median and best tokens/s
// of each, and its ratio to the built-in.
//   Bidirectional  vs  SlidingWindow<W> with W >= T (examples/policies, O(1) cover), InstructionPrefix on
//                      rows without an instruction (row-aware, O(1) cover), and a policy with sees() only
//                      (the pair-by-pair fallback: what leaving out cover() costs)
//   Causal         vs  a user's copy of it (sees() and cover()), and one with sees() only
//   SlidingWindow<64> (a mask no built-in gives) vs the same without cover(): what the O(1) cover saves
//                      where most tiles are hidden (every tile is classified; the hidden ones are skipped)
#include <bg2vec/nn/attention.hpp>

#include "policies/instruction_prefix.hpp"
#include "policies/sliding_window.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>

using namespace bg2vec;
namespace po = boost::program_options;

namespace {

struct AllKeysPairByPair {             // Bidirectional's mask, without cover()
  static constexpr std::string_view name = "all-keys (sees only)";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees(int, int) { return true; }
};

struct UserCausal {                    // Causal written again outside the library
  static constexpr std::string_view name = "user causal";
  static constexpr bool honours_sliding_window = true;
  static constexpr bool sees(int query, int key) { return key <= query; }
  static constexpr Cover cover(int q0, int q1, int k0, int k1) {
    return k0 >= q1 ? Cover::None : k1 - 1 <= q0 ? Cover::All : Cover::Some;
  }
};

struct CausalPairByPair {              // the same, without cover()
  static constexpr std::string_view name = "causal (sees only)";
  static constexpr bool honours_sliding_window = true;
  static constexpr bool sees(int query, int key) { return key <= query; }
};

template <int W>
struct WindowPairByPair {              // SlidingWindow<W>'s mask, without cover()
  static constexpr std::string_view name = "window (sees only)";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees(int query, int key) { return policies::SlidingWindow<W>::sees(query, key); }
};

Matrix random_matrix(Eigen::Index r, Eigen::Index c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  Matrix m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
  return m;
}

double load_average() {
  double one = 0;
  std::ifstream("/proc/loadavg") >> one;
  return one;
}

struct Inputs {
  TokenBatch batch;
  layers::AttentionShape shape;
  Matrix q, k, v, d_out, out, dq, dk, dv;
  Vector lse;
  Inputs(int B, int T, layers::AttentionShape s) : shape(s) {
    batch = {B, T, std::vector<int32_t>(size_t(B) * T, 1), std::vector<uint8_t>(size_t(B) * T, 1), {}};
    const Eigen::Index N = Eigen::Index(B) * T;
    q = random_matrix(N, s.heads * s.head_dim, 1);
    k = random_matrix(N, s.kv_heads * s.head_dim, 2);
    v = random_matrix(N, s.kv_heads * s.head_dim, 3);
    d_out = random_matrix(N, s.heads * s.head_dim, 4);
    out.resize(q.rows(), q.cols());
    dq.resize(q.rows(), q.cols());
    dk.resize(k.rows(), k.cols());
    dv.resize(v.rows(), v.cols());
    lse.resize(Eigen::Index(B) * s.heads * T);
  }
};

struct Contender {
  std::string name, baseline;          // baseline: the built-in it is compared with ("" for a built-in)
  std::function<void(Inputs&)> step;   // one forward + backward
  std::vector<double> seconds;
  Matrix out, dq;                      // of the first run, to check that the masks agree
};

template <AttentionPolicy P>
Contender contender(std::string baseline, std::string name = std::string(P::name)) {
  return {std::move(name), std::move(baseline), [](Inputs& in) {
            layers::attention_forward<P>(in.q, in.k, in.v, in.batch, in.shape, in.lse, in.out);
            layers::attention_backward<P>(in.q, in.k, in.v, in.out, in.lse, in.d_out, in.batch, in.shape, in.dq, in.dk, in.dv);
          }, {}, {}, {}};
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x.size() % 2 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("bench_policies options");
  options.add_options()("help,h", "show this help")
      ("tokens", po::value<int>()->default_value(4096), "B x T of each run (B = tokens / T)")
      ("seq-len", po::value<int>()->default_value(512), "T")
      ("rounds", po::value<int>()->default_value(9), "timed rounds (after one warm-up); every policy runs once per round")
      ("json", po::value<std::string>(), "also write the figures as JSON");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) { std::cout << options; return 0; }
  po::notify(vm);
  const int T = vm["seq-len"].as<int>(), B = std::max(1, vm["tokens"].as<int>() / T), rounds = vm["rounds"].as<int>();
  constexpr int kWide = 1 << 20;       // a window wider than any T here: the mask is Bidirectional's
  Inputs in(B, T, {4, 1, 256, std::nullopt, std::nullopt, std::nullopt});   // Gemma-3-270M: 4 heads, 1 kv head of 256

  std::vector<Contender> all;
  all.push_back(contender<Bidirectional>(""));
  all.push_back(contender<policies::SlidingWindow<kWide>>("bidirectional", "sliding-window (W >= T)"));
  all.push_back(contender<policies::InstructionPrefix>("bidirectional"));   // no pool_mask: no instruction
  all.push_back(contender<AllKeysPairByPair>("bidirectional"));
  all.push_back(contender<Causal>(""));
  all.push_back(contender<UserCausal>("causal"));
  all.push_back(contender<CausalPairByPair>("causal"));
  all.push_back(contender<policies::SlidingWindow<64>>("", "sliding-window 64"));
  all.push_back(contender<WindowPairByPair<64>>("sliding-window 64", "sliding-window 64 (sees only)"));

  const double load_before = load_average();
  const auto t_start = std::chrono::steady_clock::now();
  for (int r = 0; r <= rounds; ++r)
    for (size_t j = 0; j < all.size(); ++j) {
      Contender& c = all[(j + size_t(r)) % all.size()];   // each round starts one later: no policy always follows another
      const auto t0 = std::chrono::steady_clock::now();
      c.step(in);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r == 0) { c.out = in.out; c.dq = in.dq; continue; }   // warm-up; keep what it computed
      c.seconds.push_back(s);
    }
  const double load_after = load_average();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  std::printf("tiled attention forward + backward, Gemma-3-270M shape (4 heads, 1 kv head, d 256), B%d x T%d, %d OpenMP "
              "threads; %d rounds side by side (+1 warm-up), %.0f s; load average %.2f before, %.2f after\n",
              B, T, Eigen::nbThreads(), rounds, wall, load_before, load_after);
  std::printf("| policy | compared with | median tokens/s | best tokens/s | median ratio | best ratio | same output |\n"
              "|---|---|---:|---:|---:|---:|---|\n");
  nlohmann::json out = {{"batch", B}, {"seq_len", T}, {"threads", Eigen::nbThreads()}, {"rounds", rounds},
                        {"load_average_before", load_before}, {"load_average_after", load_after}};
  for (const Contender& c : all) {
    const double tokens = double(B) * T, med = tokens / median(c.seconds),
                 best = tokens / *std::min_element(c.seconds.begin(), c.seconds.end());
    const auto base = std::find_if(all.begin(), all.end(), [&](const Contender& x) { return x.name == c.baseline; });
    double med_ratio = 1, best_ratio = 1;
    bool same = true;
    if (base != all.end()) {
      med_ratio = med / (tokens / median(base->seconds));
      best_ratio = best / (tokens / *std::min_element(base->seconds.begin(), base->seconds.end()));
      same = c.out == base->out && c.dq == base->dq;   // bit for bit: the same tiles, the same sums
    }
    std::printf("| %s | %s | %.0f | %.0f | %.3f | %.3f | %s |\n", c.name.c_str(), c.baseline.empty() ? "(reference)" : c.baseline.c_str(),
                med, best, med_ratio, best_ratio, base == all.end() ? "" : same ? "bit for bit" : "NO");
    out["runs"].push_back({{"policy", c.name}, {"baseline", c.baseline}, {"median_tokens_per_s", med},
                           {"best_tokens_per_s", best}, {"median_ratio", med_ratio}, {"best_ratio", best_ratio},
                           {"same_output", same}, {"seconds", c.seconds}});
  }
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
