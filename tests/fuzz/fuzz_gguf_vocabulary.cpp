// A GGUF file's tokenizer (text/gguf_vocabulary.hpp): the vocabulary rebuilt as a sentencepiece model.
// What the rebuild accepts, sentencepiece must load (validate() promises it) and must encode with.
#include "fuzz_support.hpp"

#include <bg2vec/text/gguf_vocabulary.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("model.gguf", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const gguf::GgufFile file(path);
    (void)text::tokenizer_flags_from_gguf(file);
    const std::string proto = text::serialize(text::sentencepiece_from_gguf(file), file.path().string());
    try {
      const text::Tokenizer tokenizer = text::Tokenizer::from_serialized(proto, file.path());
      const std::vector<int32_t> ids = tokenizer.encode("София е столицата на България. x \xF0\x9F\x98\x80 <s>", true, true);
      (void)tokenizer.decode(ids);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      fuzz::check(false, "sentencepiece loads and encodes every vocabulary that sentencepiece_from_gguf accepts");
    }
  });
  return 0;
}
