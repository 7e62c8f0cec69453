// The wikitext cleaner (text/wikitext.hpp) on any bytes: it has no error to report, so it must return,
// and valid UTF-8 in must give valid UTF-8 out (no character cut in two by a removed piece of markup).
#include "fuzz_support.hpp"

#include <bg2vec/text/sentencepiece_model.hpp>   // sentencepiece_detail::valid_utf8
#include <bg2vec/text/wikitext.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const std::string_view input = fuzz::text(data, size);
  const std::string clean = text::clean_wikitext(input);
  if (text::sentencepiece_detail::valid_utf8(input))
    fuzz::check(text::sentencepiece_detail::valid_utf8(clean), "valid UTF-8 stays valid UTF-8");
  return 0;
}
