#pragma once
// Matrix products through cuBLASLt, in the row-major layout of the rest of the library: C = alpha op(A) op(B)
// + beta C with op(A) [M, K], op(B) [K, N], C [M, N]. Inputs float32 or bf16, accumulation always float32
// (CUBLAS_COMPUTE_32F: no TF32, so the float32 mode is the tests' exact-as-possible reference), output
// float32 or bf16. cuBLASLt is column-major; a row-major matrix is its transpose there, so C^T = op(B)^T
// op(A)^T is what it computes. The algorithm of each shape is chosen once (the heuristic's first) and kept.
#include <bg2vec/cuda/runtime.hpp>

#include <cublasLt.h>

#include <map>
#include <tuple>

namespace bg2vec::cuda {

enum class Dtype { F32, Bf16 };

inline cudaDataType_t cuda_type(Dtype t) { return t == Dtype::Bf16 ? CUDA_R_16BF : CUDA_R_32F; }

inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(std::string("cuBLASLt: ") + what + ": status " + std::to_string(int(s)));
}

struct Operand {
  const void* data;
  Dtype type;
  bool transposed;                     // op(X) = X^T, X stored row-major with leading dimension ld
  int ld;
};

class Gemm {
 public:
  explicit Gemm(size_t workspace_bytes = size_t(32) << 20) : workspace_bytes_(workspace_bytes) {
    check(cublasLtCreate(&handle_), "creating the handle");
    cuda::check(cudaMalloc(&workspace_, workspace_bytes_), "allocating the cuBLASLt workspace");
  }
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  ~Gemm() {
    for (auto& [key, plan] : plans_) plan.destroy();
    cudaFree(workspace_);
    cublasLtDestroy(handle_);
  }

  // C [M, N] (row-major, leading dimension ldc, type c_type) = alpha op(A) op(B) + beta C.
  void operator()(int M, int N, int K, const Operand& A, const Operand& B, void* C, Dtype c_type, int ldc, float alpha = 1.0f,
                  float beta = 0.0f, cudaStream_t stream = nullptr) {
    // column-major: C^T [N, M] = op(B)^T [N, K] op(A)^T [K, M]; B comes first
    const Key key{M, N, K, int(A.type), int(B.type), int(c_type), A.transposed, B.transposed, A.ld, B.ld, ldc};
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, make_plan(key)).first;
    const Plan& p = it->second;
    check(cublasLtMatmul(handle_, p.op, &alpha, B.data, p.a, A.data, p.b, &beta, C, p.c, C, p.c, &p.algo, workspace_,
                         workspace_bytes_, stream),
          "matmul");
  }

  // y [M, N] = x [M, K] W^T (+ beta y), W stored [N, K]: a linear layer with HF's [out, in] weights.
  void linear(int M, int N, int K, const void* x, Dtype x_type, const void* W, Dtype w_type, void* y, Dtype y_type,
              float beta = 0.0f, cudaStream_t stream = nullptr) {
    (*this)(M, N, K, {x, x_type, false, K}, {W, w_type, true, K}, y, y_type, N, 1.0f, beta, stream);
  }

 private:
  using Key = std::tuple<int, int, int, int, int, int, bool, bool, int, int, int>;
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    void destroy() {
      cublasLtMatrixLayoutDestroy(a);
      cublasLtMatrixLayoutDestroy(b);
      cublasLtMatrixLayoutDestroy(c);
      cublasLtMatmulDescDestroy(op);
    }
  };

  Plan make_plan(const Key& k) {
    const auto [M, N, K, at, bt, ct, a_trans, b_trans, lda, ldb, ldc] = k;
    Plan p;
    check(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "creating the matmul description");
    // first operand (B^T in column-major): transposed there exactly when op(B) is not B's stored layout
    const cublasOperation_t first = b_trans ? CUBLAS_OP_T : CUBLAS_OP_N, second = a_trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &first, sizeof first), "setting TRANSA");
    check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &second, sizeof second), "setting TRANSB");
    // stored shapes, column-major: B's stored row-major [K, N] (or [N, K] when transposed) is [N, K] ([K, N])
    check(cublasLtMatrixLayoutCreate(&p.a, cuda_type(Dtype(bt)), b_trans ? K : N, b_trans ? N : K, ldb), "layout of B");
    check(cublasLtMatrixLayoutCreate(&p.b, cuda_type(Dtype(at)), a_trans ? M : K, a_trans ? K : M, lda), "layout of A");
    check(cublasLtMatrixLayoutCreate(&p.c, cuda_type(Dtype(ct)), N, M, ldc), "layout of C");
    cublasLtMatmulPreference_t pref;
    check(cublasLtMatmulPreferenceCreate(&pref), "creating the preference");
    check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                               sizeof workspace_bytes_),
          "setting the workspace size");
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    check(cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found), "choosing an algorithm");
    cublasLtMatmulPreferenceDestroy(pref);
    if (found == 0)
      fail("cuBLASLt has no algorithm for a " + std::to_string(M) + " x " + std::to_string(N) + " x " + std::to_string(K) + " product");
    p.algo = result.algo;
    return p;
  }

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_;
  std::map<Key, Plan> plans_;
};

}  // namespace bg2vec::cuda
