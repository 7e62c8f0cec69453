// The test programs' main. The command-line tests run `bg2vec` as a child process: they compare its output with
// transformers' float32/float64 references, so they default the compute type to float32 (BG2VEC_COMPUTE, which
// the CLI's --compute falls back to; a test of the bf16 path passes --compute bf16). Set BG2VEC_COMPUTE before
// running a suite to test the other default.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::setenv("BG2VEC_COMPUTE", "f32", /*overwrite=*/0);
  return doctest::Context(argc, argv).run();
}
