#pragma once
// The compute type of the matrix products: float32 on Eigen (the reference, what the parity tests run) or
// bf16 with float32 accumulation on CPUs with AVX512-BF16 (backend/cpu/bf16_gemm.hpp). Chosen at run time.
#include <bg2vec/backend/cpu/bf16_gemm.hpp>
#include <bg2vec/core/error.hpp>

#include <string>
#include <string_view>

namespace bg2vec::backend {

enum class Compute { F32, Bf16 };

inline std::string_view compute_name(Compute c) { return c == Compute::Bf16 ? "bf16" : "f32"; }

// bf16 where the CPU can (AVX512-BF16), float32 elsewhere: the command line's default.
inline Compute default_compute() { return cpu::has_avx512_bf16() ? Compute::Bf16 : Compute::F32; }

// Fails with a message that says why when this CPU cannot run `c`.
inline void require_supported(Compute c) {
  if (c == Compute::Bf16 && !cpu::has_avx512_bf16())
    fail("--compute bf16 needs a CPU with AVX512-BF16 (vdpbf16ps), which this one lacks (see the avx512_bf16 flag "
         "in lscpu); use --compute f32");
}

// "f32" | "bf16" | "" or "auto" (= default_compute()); checked against this CPU.
inline Compute parse_compute(std::string_view name) {
  Compute c;
  if (name.empty() || name == "auto") c = default_compute();
  else if (name == "f32" || name == "float32") c = Compute::F32;
  else if (name == "bf16" || name == "bfloat16") c = Compute::Bf16;
  else fail("unknown compute type '" + std::string(name) + "' (expected f32, bf16 or auto)");
  require_supported(c);
  return c;
}

}  // namespace bg2vec::backend
