#pragma once
// How many threads FAISS (and Eigen) may use. FAISS parallelises with OpenMP over queries and added
// vectors, and its flat search calls BLAS sgemm from 20 queries up; OpenBLAS keeps its own pthread
// pool, which omp_set_num_threads does not reach. On a small machine unbounded pools oversubscribe
// the cores and get slower, so commands take `--threads` and set both for the duration of their work.
#include <omp.h>

// OpenBLAS's run-time setters, when OpenBLAS is the BLAS linked in (null otherwise: weak symbols).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace bg2vec::index {

// Sets the OpenMP (and OpenBLAS) thread count for its lifetime and restores the previous one afterwards.
// threads <= 0 keeps the current setting (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS or the number of cores).
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads) : previous_(omp_get_max_threads()) {
    if (threads <= 0) return;
    omp_set_num_threads(threads);
    if (openblas_set_num_threads && openblas_get_num_threads) {
      previous_blas_ = openblas_get_num_threads();
      openblas_set_num_threads(threads);
    }
  }
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;
  ~ThreadLimit() {
    omp_set_num_threads(previous_);
    if (previous_blas_ > 0) openblas_set_num_threads(previous_blas_);
  }

 private:
  int previous_;
  int previous_blas_ = 0;
};

}  // namespace bg2vec::index
