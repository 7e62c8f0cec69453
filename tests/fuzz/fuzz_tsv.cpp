// The tab-separated files of the other evaluations (eval/tsv.hpp): the first byte picks the column
// count (1 to 4), the rest is the file.
#include "fuzz_support.hpp"

#include <bg2vec/eval/tsv.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  if (size < 1) return 0;
  const size_t columns = 1 + data[0] % 4;
  const auto path = fuzz::write_file("set.tsv", fuzz::text(data + 1, size - 1));
  fuzz::refusals_allowed([&] {
    const auto rows = eval::read_tsv(path, columns, "the layout");
    fuzz::check(!rows.empty(), "a file without rows is refused");
    for (const auto& row : rows) fuzz::check(row.size() == columns, "every row has the columns asked for");
  });
  return 0;
}
