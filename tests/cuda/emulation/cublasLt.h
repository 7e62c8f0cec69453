// Host emulation of the cuBLASLt calls of cuda/gemm.hpp (see cuda_runtime.h here): cublasLtMatmul computes
// D = alpha op(A) op(B) + beta C in cuBLAS's column-major convention from the layouts and operations it was given,
// in double, so that gemm.hpp's mapping of row-major products onto it is tested too. Only what gemm.hpp uses.
#pragma once
#include <cuda_runtime.h>

#include <bg2vec/cuda/host_device.hpp>

#include <cstdint>
#include <vector>

enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16BF = 14 };
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_SUPPORTED = 15 };
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68 };
enum cublasLtMatmulDescAttributes_t { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4 };
enum cublasLtMatmulPreferenceAttributes_t { CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1 };

struct EmulatedLtDesc {
  cublasOperation_t a = CUBLAS_OP_N, b = CUBLAS_OP_N;
};
struct EmulatedLtLayout {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
using cublasLtHandle_t = struct EmulatedLtHandle*;
using cublasLtMatmulDesc_t = EmulatedLtDesc*;
using cublasLtMatrixLayout_t = EmulatedLtLayout*;
using cublasLtMatmulPreference_t = struct EmulatedLtPreference*;
struct cublasLtMatmulAlgo_t {
  uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
  cublasLtMatmulAlgo_t algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

inline cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
  *h = nullptr;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t, cudaDataType_t) {
  *d = new EmulatedLtDesc;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void* v, size_t) {
  (a == CUBLASLT_MATMUL_DESC_TRANSA ? d->a : d->b) = *static_cast<const cublasOperation_t*>(v);
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType_t t, uint64_t rows, uint64_t cols, int64_t ld) {
  if (ld < int64_t(rows)) return CUBLAS_STATUS_NOT_SUPPORTED;   // column-major: the leading dimension holds a column
  *l = new EmulatedLtLayout{t, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = nullptr;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t, const void*,
                                                           size_t) {
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int,
                                                     cublasLtMatmulHeuristicResult_t* result, int* found) {
  *result = {};
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

namespace emulated_lt {
inline double element(const void* p, cudaDataType_t t, int64_t i) {
  if (t == CUDA_R_16BF) return bg2vec::cuda::to_float(static_cast<const bg2vec::cuda::Bf16*>(p)[i]);
  return static_cast<const float*>(p)[i];
}
// op(X)(r, c) of a column-major X
inline double op_element(const void* p, const EmulatedLtLayout& l, cublasOperation_t op, int64_t r, int64_t c) {
  return op == CUBLAS_OP_N ? element(p, l.type, c * l.ld + r) : element(p, l.type, r * l.ld + c);
}
}  // namespace emulated_lt

inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void* alpha, const void* A, cublasLtMatrixLayout_t a,
                                     const void* B, cublasLtMatrixLayout_t b, const void* beta, const void* C, cublasLtMatrixLayout_t c,
                                     void* D, cublasLtMatrixLayout_t dl, const cublasLtMatmulAlgo_t*, void*, size_t, cudaStream_t) {
  const int64_t m = int64_t(c->rows), n = int64_t(c->cols);
  const int64_t k = int64_t(d->a == CUBLAS_OP_N ? a->cols : a->rows);
  const int64_t a_rows = int64_t(d->a == CUBLAS_OP_N ? a->rows : a->cols), b_rows = int64_t(d->b == CUBLAS_OP_N ? b->rows : b->cols);
  const int64_t b_cols = int64_t(d->b == CUBLAS_OP_N ? b->cols : b->rows);
  if (a_rows != m || b_rows != k || b_cols != n || dl->rows != c->rows || dl->cols != c->cols) return CUBLAS_STATUS_NOT_SUPPORTED;
  const double al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  std::vector<double> out(size_t(m * n));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += emulated_lt::op_element(A, *a, d->a, i, p) * emulated_lt::op_element(B, *b, d->b, p, j);
      out[size_t(j * m + i)] = al * s + (be != 0 ? be * emulated_lt::element(C, c->type, j * c->ld + i) : 0.0);
    }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      const double v = out[size_t(j * m + i)];
      if (dl->type == CUDA_R_16BF) static_cast<bg2vec::cuda::Bf16*>(D)[j * dl->ld + i] = bg2vec::cuda::to_bf16(float(v));
      else static_cast<float*>(D)[j * dl->ld + i] = float(v);
    }
  return CUBLAS_STATUS_SUCCESS;
}
