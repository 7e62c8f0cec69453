#pragma once
// How many OpenMP threads FAISS (and Eigen) may use. FAISS parallelises over queries and over the
// vectors it adds; on a small machine an unbounded pool oversubscribes the cores and gets slower,
// so commands take `--threads` and set it for the duration of their work.
#include <bg2vec/core/error.hpp>

#include <omp.h>

namespace bg2vec::index {

// Sets the OpenMP thread count for its lifetime and restores the previous one afterwards.
// threads <= 0 keeps the current setting (OMP_NUM_THREADS or the number of cores).
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads) : previous_(omp_get_max_threads()) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;
  ~ThreadLimit() { omp_set_num_threads(previous_); }

 private:
  int previous_;
};

}  // namespace bg2vec::index
