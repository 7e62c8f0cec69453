// The Wikipedia XML dump stream (text/wiki_dump.hpp; plain, or bz2 when the input starts with "BZh"),
// and each article's wikitext through the cleaner, as `bg2vec wiki extract` does.
#include "fuzz_support.hpp"

#include <bg2vec/text/wiki_dump.hpp>
#include <bg2vec/text/wikitext.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("dump.xml", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    text::WikiDumpReader reader(path);
    reader.read([](const text::WikiPage& page) {
      if (page.ns == 0 && !page.redirect) (void)text::clean_wikitext(page.text);
    });
  });
  return 0;
}
