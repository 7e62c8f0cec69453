// The one translation unit that nvcc compiles for the CUDA backend (the CMake target bg2vec::cuda): the
// launchers of cuda/kernels.hpp (kernels.cuh), instantiated for float and Bf16 (instantiate.inc).
#include <bg2vec/cuda/kernels.cuh>

#include "instantiate.inc"
