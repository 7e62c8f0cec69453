// A model folder's tokenizer.model (text/tokenizer.hpp, parsed by the sentencepiece library), then text
// through it both ways.
#include "fuzz_support.hpp"

#include <bg2vec/text/tokenizer.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("tokenizer.model", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const text::Tokenizer tokenizer(path);
    (void)tokenizer.decode(tokenizer.encode("София е столицата на България. \xF0\x9F\x98\x80", true, true));
  });
  return 0;
}
