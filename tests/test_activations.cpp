// The vectorised element-wise math (backend/cpu/vector_math.hpp) and the gated activations built on it
// (nn/mlp.hpp) against the textbook formulas in double (std::exp, std::tanh), over dense ranges that
// include large |x|; both compiled forms of the rows (AVX-512 where the CPU has it, and the build's own).
#include <bg2vec/backend/cpu/vector_math.hpp>
#include <bg2vec/nn/mlp.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

namespace test_activations {

using namespace bg2vec;

namespace {

// -limit..limit in steps of `step`, then some large magnitudes (up to 1e13: beyond ~1e19 z^2 overflows float).
std::vector<float> dense_range(double limit, double step) {
  std::vector<float> x;
  for (double v = -limit; v <= limit; v += step) x.push_back(float(v));
  for (float big : {50.0f, 88.0f, 89.0f, 100.0f, 1e3f, 1e6f, 1e13f}) {
    x.push_back(big);
    x.push_back(-big);
  }
  return x;
}

// torch's gelu(approximate="tanh") and its derivative, in double.
double gelu_reference(double z) { return 0.5 * z * (1 + std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z))); }
double gelu_derivative_reference(double z) {
  const double t = std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z));
  return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * z * z);
}
double silu_reference(double z) { return z / (1 + std::exp(-z)); }
double silu_derivative_reference(double z) {
  const double s = 1 / (1 + std::exp(-z));
  return s * (1 + z * (1 - s));
}

struct Errors {
  double relative = 0, absolute = 0;   // relative where |reference| > 1e-6; absolute elsewhere
  void add(double got, double want) {
    const double e = std::fabs(got - want);
    if (std::fabs(want) > 1e-6) relative = std::max(relative, e / std::fabs(want));
    else absolute = std::max(absolute, e);
  }
};

// Forward and backward of the gated activation on one row (up = 1, d_act = 1, so act = Act(z), d_up = Act(z),
// d_gate = Act'(z)), through the public functions (run-time choice) and the build-target rows.
template <class Act>
void check_gated(double (*value)(double), double (*derivative)(double), double value_tolerance, double derivative_tolerance) {
  const std::vector<float> z = dense_range(30, 1e-3);
  const Eigen::Index n = Eigen::Index(z.size());
  const Matrix gate = Eigen::Map<const Matrix>(z.data(), 1, n), ones = Matrix::Ones(1, n);
  Matrix act(1, n), d_gate(1, n), d_up(1, n), act_generic(1, n), d_gate_generic(1, n), d_up_generic(1, n);
  layers::gated_forward<Act>(gate, ones, act);
  layers::gated_backward<Act>(gate, ones, ones, d_gate, d_up);
  layers::detail::gated_forward_row_generic<Act>(gate.data(), ones.data(), act_generic.data(), n);
  layers::detail::gated_backward_row_generic<Act>(gate.data(), ones.data(), ones.data(), d_gate_generic.data(),
                                                  d_up_generic.data(), n);
  CHECK(act.allFinite());
  CHECK(d_gate.allFinite());
  for (const Matrix* a : {&act, &act_generic}) {
    Errors v;
    for (Eigen::Index i = 0; i < n; ++i) v.add((*a)(0, i), value(z[size_t(i)]));
    CAPTURE(v.relative);
    CAPTURE(v.absolute);
    CHECK(v.relative < value_tolerance);
    CHECK(v.absolute < 1e-11);   // where |value| <= 1e-6
  }
  // The derivative is bounded (gelu' in [-0.17, 1.13], silu' in [-0.1, 1.1]) and crosses 0, where any relative
  // measure blows up: absolute error.
  for (const Matrix* d : {&d_gate, &d_gate_generic}) {
    double worst = 0;
    for (Eigen::Index i = 0; i < n; ++i) worst = std::max(worst, std::fabs((*d)(0, i) - derivative(z[size_t(i)])));
    CAPTURE(worst);
    CHECK(worst < derivative_tolerance);
  }
  CHECK((d_up - act).cwiseAbs().maxCoeff() == 0);
  CHECK((d_up_generic - act_generic).cwiseAbs().maxCoeff() == 0);
}

}  // namespace

TEST_CASE("exp_approx is within 1.5e-7 relative of exp over [-86.9, 88.7], +inf above, 0 below") {
  double worst = 0;
  for (double x = -86.9; x <= 88.7; x += 1e-4) {
    const float xf = float(x);
    worst = std::max(worst, std::fabs(backend::cpu::exp_approx(xf) - std::exp(double(xf))) / std::exp(double(xf)));
  }
  CAPTURE(worst);
  CHECK(worst < 1.5e-7);
  CHECK(std::isinf(backend::cpu::exp_approx(88.8f)));
  CHECK(std::isinf(backend::cpu::exp_approx(INFINITY)));
  CHECK(backend::cpu::exp_approx(-87.0f) == 0);
  CHECK(backend::cpu::exp_approx(-1e30f) == 0);
  CHECK(backend::cpu::exp_approx(-INFINITY) == 0);
}

TEST_CASE("sigmoid: relative error <= 2.5e-7, and 2 sigmoid(2x) - 1 is tanh to 3e-7 absolute, large |x| included") {
  Errors s;
  double tanh_error = 0;
  for (const float x : dense_range(40, 1e-4)) {
    const double want = 1 / (1 + std::exp(-double(x)));
    if (want > 1e-30) s.add(backend::cpu::sigmoid(x), want);
    tanh_error = std::max(tanh_error, std::fabs(2.0 * backend::cpu::sigmoid(2 * x) - 1 - std::tanh(double(x))));
    CHECK(backend::cpu::sigmoid(x) >= 0);
    CHECK(backend::cpu::sigmoid(x) <= 1);
  }
  CAPTURE(s.relative);
  CAPTURE(tanh_error);
  CHECK(s.relative < 2.5e-7);
  CHECK(tanh_error < 3e-7);
  CHECK(backend::cpu::sigmoid(3e38f) == 1.0f);
  CHECK(backend::cpu::sigmoid(-3e38f) == 0.0f);
}

TEST_CASE("GeGLU's gelu-tanh, forward and backward, against std::tanh in double") {
  // Measured: value 1.2e-6 relative (the float rounding of the tanh argument, magnified by exp where |2u| is
  // large, z < -4; float std::tanh loses 6e-2 there), derivative 1.8e-7 absolute.
  check_gated<layers::GeluTanh>(gelu_reference, gelu_derivative_reference, 2e-6, 3e-7);
  CHECK(layers::GeluTanh::value(1.0f) == doctest::Approx(0.8411920071).epsilon(1e-6));   // torch's gelu(1, "tanh")
}

TEST_CASE("SwiGLU's silu, forward and backward, against std::exp in double") {
  check_gated<layers::Silu>(silu_reference, silu_derivative_reference, 3e-7, 3e-7);
}

TEST_CASE("the gated pass multiplies by up and by d_act elementwise") {
  const Matrix gate = Matrix::Random(5, 37) * 4, up = Matrix::Random(5, 37), d_act = Matrix::Random(5, 37);
  Matrix act(5, 37), d_gate(5, 37), d_up(5, 37);
  layers::gated_forward<layers::GeluTanh>(gate, up, act);
  layers::gated_backward<layers::GeluTanh>(gate, up, d_act, d_gate, d_up);
  for (Eigen::Index i = 0; i < gate.rows(); ++i)
    for (Eigen::Index j = 0; j < gate.cols(); ++j) {
      const double z = gate(i, j);
      CHECK(act(i, j) == doctest::Approx(gelu_reference(z) * up(i, j)).epsilon(1e-5));
      CHECK(d_up(i, j) == doctest::Approx(gelu_reference(z) * d_act(i, j)).epsilon(1e-5));
      CHECK(d_gate(i, j) == doctest::Approx(gelu_derivative_reference(z) * up(i, j) * d_act(i, j)).epsilon(1e-5).scale(1e-3));
    }
}

}  // namespace test_activations
