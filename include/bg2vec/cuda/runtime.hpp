#pragma once
// The CUDA runtime as the backend uses it: errors that say what failed, whether a GPU is there, and one
// device arena per use (parameters, or a batch's activations) so that a step allocates nothing.
// Host code: the ordinary compiler builds it (it needs cuda_runtime.h and libcudart, no nvcc).
#include <bg2vec/core/error.hpp>

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace bg2vec::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

// Number of usable GPUs; 0 where there is none or no driver (cudaGetDeviceCount fails then).
inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();   // clear the sticky error of a missing driver
    return 0;
  }
  return n;
}

// One cudaMalloc, carved in order (256-byte aligned pieces, as cuBLASLt prefers); reset() reuses it.
class DeviceArena {
 public:
  DeviceArena() = default;
  explicit DeviceArena(size_t bytes) : capacity_(bytes) { check(cudaMalloc(&base_, bytes), "allocating the device arena"); }
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;
  DeviceArena(DeviceArena&& o) noexcept { *this = std::move(o); }
  DeviceArena& operator=(DeviceArena&& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(capacity_, o.capacity_);
    std::swap(used_, o.used_);
    return *this;
  }
  ~DeviceArena() {
    if (base_) cudaFree(base_);
  }

  template <class T>
  T* take(size_t count) {
    const size_t bytes = (count * sizeof(T) + 255) / 256 * 256;
    if (used_ + bytes > capacity_)
      fail("device arena exhausted: " + std::to_string(used_ + bytes) + " bytes needed, " + std::to_string(capacity_) + " reserved");
    T* p = reinterpret_cast<T*>(static_cast<char*>(base_) + used_);
    used_ += bytes;
    return p;
  }
  void reset() { used_ = 0; }
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }

  // What take() would use for `count` elements of T (to size an arena before carving it).
  template <class T>
  static size_t footprint(size_t count) { return (count * sizeof(T) + 255) / 256 * 256; }

 private:
  void* base_ = nullptr;
  size_t capacity_ = 0, used_ = 0;
};

template <class T>
void upload(T* device, const T* host, size_t count, cudaStream_t stream = nullptr) {
  check(cudaMemcpyAsync(device, host, count * sizeof(T), cudaMemcpyHostToDevice, stream), "copying to the device");
}
template <class T>
void download(T* host, const T* device, size_t count, cudaStream_t stream = nullptr) {
  check(cudaMemcpyAsync(host, device, count * sizeof(T), cudaMemcpyDeviceToHost, stream), "copying from the device");
  check(cudaStreamSynchronize(stream), "waiting for the copy from the device");
}

}  // namespace bg2vec::cuda
