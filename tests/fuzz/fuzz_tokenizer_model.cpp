// A model folder's tokenizer.model: as sentencepiece's own parser reads it (text/tokenizer.hpp; the library
// is not instrumented, so only its crashes would show), then text through it both ways; and as our
// reader parse_sentencepiece (text/sentencepiece_model.hpp, for gguf export) reads it: what that accepts
// must serialize and read back as the same pieces.
#include "fuzz_support.hpp"

#include <bg2vec/text/sentencepiece_model.hpp>
#include <bg2vec/text/tokenizer.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("tokenizer.model", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const text::Tokenizer tokenizer(path);
    (void)tokenizer.decode(tokenizer.encode("София е столицата на България. \xF0\x9F\x98\x80", true, true));
  });
  fuzz::refusals_allowed([&] {
    const text::ParsedSentencePiece parsed = text::parse_sentencepiece(fuzz::text(data, size), "tokenizer.model");
    std::string bytes;
    try {
      bytes = text::serialize(parsed.model, "tokenizer.model");
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      fuzz::check(false, "a model parse_sentencepiece accepts serializes");
    }
    const text::ParsedSentencePiece back = text::parse_sentencepiece(bytes, "serialized");
    fuzz::check(back.model.pieces.size() == parsed.model.pieces.size() && back.model.unk_id == parsed.model.unk_id &&
                    back.model.algorithm == parsed.model.algorithm && back.model.byte_fallback == parsed.model.byte_fallback,
                "parse_sentencepiece reads back what serialize writes");
    for (size_t i = 0; i < back.model.pieces.size(); ++i)
      fuzz::check(back.model.pieces[i].text == parsed.model.pieces[i].text && back.model.pieces[i].type == parsed.model.pieces[i].type,
                  "the same pieces");
  });
  return 0;
}
