# The CUDA backend's compiled part: src/cuda/kernels.cu, the one translation unit nvcc builds (the launchers of
# include/bg2vec/cuda/kernels.hpp); everything else of the backend is headers that the host compiler
# builds. Included by the top-level CMakeLists.txt (BG2VEC_CUDA=ON) and by bench/gpu/CMakeLists.txt (the GPU
# machine's build, which has none of the Debian packages). Needs enable_language(CUDA) and
# find_package(CUDAToolkit) first.
set(BG2VEC_CUDA_ARCHITECTURES "90" CACHE STRING "GPU architectures of the CUDA backend (90: H100/H200)")
get_filename_component(BG2VEC_CUDA_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
add_library(bg2vec_cuda STATIC ${BG2VEC_CUDA_ROOT}/src/cuda/kernels.cu)
add_library(bg2vec::cuda ALIAS bg2vec_cuda)
target_include_directories(bg2vec_cuda PUBLIC $<BUILD_INTERFACE:${BG2VEC_CUDA_ROOT}/include>)
# CMake 3.25 does not know nvcc 13's flag for C++20 (and would otherwise refuse the CUDA20 dialect, which
# CUDA_STANDARD takes from the project's CXX_STANDARD).
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set_target_properties(bg2vec_cuda PROPERTIES CUDA_ARCHITECTURES "${BG2VEC_CUDA_ARCHITECTURES}" CUDA_STANDARD 20
  CUDA_STANDARD_REQUIRED ON POSITION_INDEPENDENT_CODE ON)
# constexpr host functions (the attention policies' sees) may be called from device code
target_compile_options(bg2vec_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
target_link_libraries(bg2vec_cuda PUBLIC CUDA::cudart CUDA::cublasLt)
