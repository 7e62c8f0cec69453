// GEMM options for the projections y = x W^T (x [N, H], W [F, H], Hugging Face's layout) on this CPU:
// Eigen float32 (today's path), our AVX512-BF16 kernel (backend/cpu/bf16_gemm.hpp: W packed once, x converted
// per call, float32 accumulation and output) and, where the build found it, oneDNN's matmul (bf16 in with the
// f32 -> bf16 reorder of x counted, f32 out; and its float32 matmul). Also the machine's peak: a tight loop of
// independent vdpbf16ps and of float32 FMAs on every thread. Each figure is the minimum over --reps calls
// (after one warm-up). Then the backward's weight gradient dW = dy^T x (Eigen float32 against the bf16 kernel)
// and the time to pack a weight. Prints two tables and, with --json FILE, the same as JSON.
#include <bg2vec/backend/cpu/bf16_gemm.hpp>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#ifdef BG2VEC_HAVE_DNNL
#include <dnnl.hpp>
#endif

namespace po = boost::program_options;
using namespace bg2vec;
using Clock = std::chrono::steady_clock;

template <class F>
double min_seconds(int reps, F&& f) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Peak: 20 independent accumulators (zmm0..zmm19) per thread in inline assembly, so the loop is bound by
// throughput, not latency (Zen 4: latency ~6, two 512-bit vdpbf16ps or FMAs per cycle), and the compiler can
// neither keep the accumulators in memory nor fold the loop away.
#define BG2VEC_REP20(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) \
  op(14) op(15) op(16) op(17) op(18) op(19)
#define BG2VEC_DP(i) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define BG2VEC_FMA(i) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #i "\n\t"
#define BG2VEC_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
  "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm30", "xmm31"

// One thread's share, in a function of its own: the zmm registers need the AVX-512 target, which the
// OpenMP region's outlined body would not inherit from its enclosing function (nor a -march without AVX-512).
template <bool Bf16>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void burst(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i) {
    if constexpr (Bf16) asm volatile(BG2VEC_REP20(BG2VEC_DP) ::: BG2VEC_CLOBBERS);
    else asm volatile(BG2VEC_REP20(BG2VEC_FMA) ::: BG2VEC_CLOBBERS);
  }
}

template <bool Bf16>
double peak(int64_t iters) {
  double flops = 0;
  const auto t0 = Clock::now();
#pragma omp parallel reduction(+ : flops)
  {
    burst<Bf16>(iters);
    flops += double(iters) * 20 * (Bf16 ? 64 : 32);   // bf16: 16 lanes x 2 products x (multiply + add)
  }
  return flops / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9;
}

int main(int argc, char** argv) {
  po::options_description options("bench_gemm options");
  options.add_options()("help,h", "show this help")
      ("reps", po::value<int>()->default_value(5), "timed calls per figure (the minimum is reported)")
      ("vocab-slice", po::value<int>()->default_value(32768), "columns of the lm_head shape (262144 = Gemma-3's whole vocabulary)")
      ("quick", "only N = 128 and the lm_head slice")
      ("json", po::value<std::string>(), "also write the figures as JSON");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  if (vm.count("help")) { std::cout << options; return 0; }
  po::notify(vm);
  const int reps = vm["reps"].as<int>();
  if (!backend::cpu::has_avx512_bf16()) {
    std::fprintf(stderr, "this CPU has no AVX512-BF16: only the float32 figures are meaningful here\n");
    return 1;
  }

  nlohmann::json out;
  out["threads"] = omp_get_max_threads();
  const double pk_bf16 = std::max(peak<true>(20000000), peak<true>(20000000));
  const double pk_fma = std::max(peak<false>(20000000), peak<false>(20000000));
  out["peak_gflops"] = {{"bf16_dpbf16ps", pk_bf16}, {"f32_fma", pk_fma}};
  std::printf("threads %d; peak: vdpbf16ps %.1f GFLOP/s, f32 FMA %.1f GFLOP/s\n", omp_get_max_threads(), pk_bf16, pk_fma);

  struct ShapeCase { int64_t N, H, F; const char* what; };
  std::vector<ShapeCase> cases;
  const std::vector<int64_t> Ns = vm.count("quick") ? std::vector<int64_t>{128} : std::vector<int64_t>{128, 4096};
  for (int64_t N : Ns)
    for (auto [H, F, what] : {std::tuple{512L, 1536L, "mistral-medium gate/up"}, std::tuple{640L, 2048L, "gemma3-270m gate/up"},
                              std::tuple{640L, 1024L, "gemma3-270m q"}, std::tuple{2048L, 640L, "gemma3-270m down"}})
      cases.push_back({N, H, F, what});
  cases.push_back({512, 640, vm["vocab-slice"].as<int>(), "gemma3-270m lm_head slice"});

  std::printf("%6s %5s %7s  %-26s %9s %9s %9s %9s  %s\n", "N", "H", "F", "what", "eigen f32", "own bf16", "dnnl bf16",
              "dnnl f32", "max|own-f32|/max|f32| (GFLOP/s; error)");
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& s : cases) {
    Matrix x(s.N, s.H), w(s.F, s.H), y(s.N, s.F), y16(s.N, s.F);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = 0.05f * normal(rng);
    const double flop = 2.0 * double(s.N) * double(s.H) * double(s.F);
    const double t_eigen = min_seconds(reps, [&] { y.noalias() = x * w.transpose(); });
    const auto packed = backend::cpu::PackedB::for_x_wt(w);
    const double t_own = min_seconds(reps, [&] { backend::cpu::gemm_bf16(x, packed, y16, false); });
    const double err = (y16 - y).cwiseAbs().maxCoeff() / y.cwiseAbs().maxCoeff();
    double t_dnnl = 0, t_dnnl32 = 0;
#ifdef BG2VEC_HAVE_DNNL
    {
      using namespace dnnl;
      using dt = memory::data_type;
      using tag = memory::format_tag;
      engine eng(engine::kind::cpu, 0);
      stream st(eng);
      for (const dt type : {dt::bf16, dt::f32}) {
        const memory::desc a_md({s.N, s.H}, type, tag::ab), b_md({s.H, s.F}, type, tag::any), c_md({s.N, s.F}, dt::f32, tag::ab);
        const matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), eng);
        memory w_user({{s.H, s.F}, dt::f32, tag::ba}, eng, w.data()), w_packed(pd.weights_desc(), eng);
        reorder(w_user, w_packed).execute(st, w_user, w_packed);
        memory a_user({{s.N, s.H}, dt::f32, tag::ab}, eng, x.data()), a_conv(pd.src_desc(), eng);
        memory c_mem(pd.dst_desc(), eng, y16.data());
        const reorder to_src(a_user, a_conv);
        const matmul mm(pd);
        const double t = min_seconds(reps, [&] {
          if (type == dt::bf16) to_src.execute(st, a_user, a_conv);
          mm.execute(st, {{DNNL_ARG_SRC, type == dt::bf16 ? a_conv : a_user}, {DNNL_ARG_WEIGHTS, w_packed}, {DNNL_ARG_DST, c_mem}});
          st.wait();
        });
        (type == dt::bf16 ? t_dnnl : t_dnnl32) = t;
      }
    }
#endif
    auto gf = [&](double t) { return t > 0 ? flop / t / 1e9 : 0.0; };
    std::printf("%6ld %5ld %7ld  %-26s %9.1f %9.1f %9.1f %9.1f  %.1e\n", long(s.N), long(s.H), long(s.F), s.what, gf(t_eigen),
                gf(t_own), gf(t_dnnl), gf(t_dnnl32), err);
    out["gemm"].push_back({{"N", s.N}, {"H", s.H}, {"F", s.F}, {"what", s.what},
                           {"gflops", {{"eigen_f32", gf(t_eigen)}, {"own_bf16", gf(t_own)}, {"dnnl_bf16", gf(t_dnnl)}, {"dnnl_f32", gf(t_dnnl32)}}},
                           {"own_bf16_rel_error", err}});
  }

  // The backward's products of a training step: the weight gradient dW = dy^T x (dy [N, F], x [N, H]), Eigen
  // float32 against the bf16 kernel with x packed and dy^T converted on every call (both counted); and the cost
  // of packing a weight (after each full step, twice per projection), element by element against vectorised.
  std::printf("\n%6s %5s %7s  %-26s %9s %9s  %-12s %10s %10s %10s %10s\n", "N", "H", "F", "what", "dW f32", "dW bf16",
              "(GFLOP/s)", "pack W^T", "(by elem)", "pack W", "(by elem) ms");
  for (const auto& s : cases) {
    if (s.N < 1024) continue;   // a weight gradient reduces over a whole batch's rows
    Matrix x(s.N, s.H), dy(s.N, s.F), w(s.F, s.H), dw(s.F, s.H), dw16(s.F, s.H);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
    const double flop = 2.0 * double(s.N) * double(s.H) * double(s.F);
    const double t_eigen = min_seconds(reps, [&] { dw.noalias() = dy.transpose() * x; });
    const double t_own = min_seconds(reps, [&] { backend::cpu::gemm_bf16_at_b(dy, x, dw16, false); });
    const double err = (dw16 - dw).cwiseAbs().maxCoeff() / dw.cwiseAbs().maxCoeff();
    using backend::cpu::PackedB;
    const double p_wt = min_seconds(reps, [&] { (void)PackedB::for_x_wt(w); });
    const double p_wt_elem = min_seconds(reps, [&] { (void)PackedB(w.cols(), w.rows(), [&](int64_t k, int64_t c) { return w(c, k); }); });
    const double p_w = min_seconds(reps, [&] { (void)PackedB::for_x_w(w); });
    const double p_w_elem = min_seconds(reps, [&] { (void)PackedB(w.rows(), w.cols(), [&](int64_t k, int64_t c) { return w(k, c); }); });
    std::printf("%6ld %5ld %7ld  %-26s %9.1f %9.1f  %-12.1e %10.2f %10.2f %10.2f %10.2f\n", long(s.N), long(s.H), long(s.F), s.what,
                flop / t_eigen / 1e9, flop / t_own / 1e9, err, 1e3 * p_wt, 1e3 * p_wt_elem, 1e3 * p_w, 1e3 * p_w_elem);
    out["weight_gradient"].push_back({{"N", s.N}, {"H", s.H}, {"F", s.F}, {"what", s.what},
                                      {"gflops", {{"eigen_f32", flop / t_eigen / 1e9}, {"own_bf16", flop / t_own / 1e9}}},
                                      {"own_bf16_rel_error", err},
                                      {"pack_ms", {{"x_wt", 1e3 * p_wt}, {"x_wt_by_element", 1e3 * p_wt_elem},
                                                   {"x_w", 1e3 * p_w}, {"x_w_by_element", 1e3 * p_w_elem}}}});
  }
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << out.dump(2) << "\n";
  return 0;
}
