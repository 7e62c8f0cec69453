// The one translation unit that nvcc compiles for the CUDA backend (the CMake target bg2vec::cuda): the
// launchers of backend/cuda/kernels.hpp, instantiated for the storage types the decoder uses (float32 in the
// float32 mode, Bf16 in the bf16 mode; the residual stream and the norms' statistics are float32 in both).
#include <bg2vec/backend/cuda/kernels.cuh>

namespace bg2vec::backend::cuda {

#define BG2VEC_CUDA_INSTANTIATE(T)                                                                                       \
  template void launch_embedding_gather<T>(const int32_t*, const T*, float, int, int, float*, cudaStream_t);             \
  template void launch_rmsnorm<float, T, T>(const float*, const T*, float, float, int, int, T*, float*, cudaStream_t);   \
  template void launch_post_norm_residual<T>(const float*, const T*, float, float, int, int, const float*, float*,       \
                                             float*, cudaStream_t);                                                      \
  template void launch_rope<T>(T*, int, int, int, int, const float*, const float*, int, cudaStream_t);                   \
  template void launch_attention_forward<T>(const T*, const T*, const T*, const uint8_t*, int, const AttentionGeometry&, \
                                            const AttentionMask&, const DeviceDropout&, T*, float*, cudaStream_t);       \
  template void launch_gated_forward<T>(GateKind, const T*, const T*, T*, size_t, cudaStream_t);                         \
  template void launch_rmsnorm_backward<float, T>(const float*, const T*, float, const float*, const float*, int, int,   \
                                                  float*, float*, cudaStream_t);                                         \
  template void launch_gated_backward<T>(GateKind, const T*, const T*, const float*, float*, float*, size_t,             \
                                         cudaStream_t);                                                                  \
  template void launch_attention_backward<T>(const T*, const T*, const T*, const T*, const float*, const float*, float*, \
                                             const uint8_t*, int, const AttentionGeometry&, const AttentionMask&,        \
                                             const DeviceDropout&, float*, float*, float*, cudaStream_t);                \
  template void launch_gather_rows<T>(const float*, const int64_t*, int, int, T*, cudaStream_t);

BG2VEC_CUDA_INSTANTIATE(float)
BG2VEC_CUDA_INSTANTIATE(Bf16)
// the bf16 mode's final norm (float32 out, for pooling and the lm_head) and its q/k norms (bf16 in and out); in the
// float32 mode both are <float, float, float> above
template void launch_rmsnorm<float, Bf16, float>(const float*, const Bf16*, float, float, int, int, float*, float*, cudaStream_t);
template void launch_rmsnorm<Bf16, Bf16, Bf16>(const Bf16*, const Bf16*, float, float, int, int, Bf16*, float*, cudaStream_t);
// and the backward of those q/k norms, and of the post-norms (their input is the float32 branch) in both modes
template void launch_rmsnorm_backward<Bf16, Bf16>(const Bf16*, const Bf16*, float, const float*, const float*, int, int, float*,
                                                  float*, cudaStream_t);

#undef BG2VEC_CUDA_INSTANTIATE

}  // namespace bg2vec::backend::cuda
