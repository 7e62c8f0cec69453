// Token shards (data/shards.hpp): the header, then every block read back, as training reads them.
#include "fuzz_support.hpp"

#include <bg2vec/data/shards.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("shards/train-00000.bin", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const data::ShardReader reader(path.parent_path(), "train");
    fuzz::check(reader.num_blocks() * reader.seq_len() * reader.token_bytes() + data::shard_header_bytes == size,
                "the blocks are the file");
    int64_t sum = 0;
    for (size_t i : reader.shuffled_order(1))
      for (int32_t id : reader.block(i).to_vector()) sum += id;
    (void)sum;
  });
  return 0;
}
