// Token shards and the tokenized corpus: what is written is what is read, the split is decided by
// the article id alone, and the result does not depend on the number of threads.
#include <bg2vec/data/tokenize_corpus.hpp>
#include <bg2vec/text/bz2_stream.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

#include <doctest/doctest.h>
#include <fstream>
#include <numeric>
#include <sstream>

namespace test_shards {

namespace fs = std::filesystem;
using namespace bg2vec;
using namespace bg2vec::data;

namespace {

const fs::path work_dir = fs::temp_directory_path() / ("bg2vec-test-shards-" + std::to_string(::getpid()));
struct Cleanup {
  ~Cleanup() { fs::remove_all(work_dir); }
} cleanup;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<int32_t> iota_block(size_t n, int32_t start) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// 300 documents of 4 shipped WikiANN sentences each, and a tokenizer trained on them.
struct Corpus {
  fs::path articles = work_dir / "articles.jsonl";
  std::vector<text::Article> documents;
  std::unique_ptr<text::Tokenizer> tokenizer;
  Corpus() {
    fs::create_directories(work_dir);
    text::DumpSource source(fs::path(BG2VEC_REPO_DATA) / "corpus/wikiann-bg.sentences.txt.bz2");
    std::string all(4 << 20, '\0');
    all.resize(source.read(all.data(), all.size()));
    std::istringstream lines(all);
    std::ofstream out(articles);
    std::string line;
    for (int d = 0; d < 300; ++d) {
      text::Article a{std::to_string(1000 + d), "Статия " + std::to_string(d), ""};
      for (int k = 0; k < 4 && std::getline(lines, line); ++k) a.text += (k ? "\n" : "") + line;
      out << text::article_json_line(a);
      documents.push_back(a);
    }
    out.close();
    text::TokenizerTrainOptions options;
    options.vocab_size = 500;
    text::train_tokenizer(articles, work_dir / "tok.model", options);
    tokenizer = std::make_unique<text::Tokenizer>(work_dir / "tok.model");
  }
};

const Corpus& corpus() {
  static const Corpus c;
  return c;
}

TokenizeOptions quiet_options(uint32_t seq_len, double val_fraction) {
  TokenizeOptions o;
  o.seq_len = seq_len;
  o.val_fraction = val_fraction;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("a shard round-trips its blocks, with 16-bit and 32-bit tokens") {
  fs::create_directories(work_dir);
  for (uint32_t vocab : {500u, 70000u}) {
    const fs::path file = work_dir / ("s" + std::to_string(vocab) + ".bin");
    ShardWriter writer(file, vocab, 8);
    for (int b = 0; b < 5; ++b) writer.write_block(iota_block(8, 10 * b + int32_t(vocab) - 60));
    writer.finish();
    ShardReader reader(file);
    CHECK(reader.token_bytes() == (vocab == 500 ? 2 : 4));
    CHECK(fs::file_size(file) == shard_header_bytes + 40 * reader.token_bytes());
    REQUIRE(reader.num_blocks() == 5);
    CHECK(reader.seq_len() == 8);
    CHECK(reader.vocab_size() == vocab);
    for (int b = 0; b < 5; ++b) CHECK(reader.block(size_t(b)).to_vector() == iota_block(8, 10 * b + int32_t(vocab) - 60));
    CHECK_THROWS_AS(reader.block(5), Error);
  }
}

TEST_CASE("the writer refuses ids outside the vocabulary and blocks of the wrong length") {
  fs::create_directories(work_dir);
  ShardWriter writer(work_dir / "refuse.bin", 100, 4);
  CHECK_THROWS_WITH_AS(writer.write_block(std::vector<int32_t>{1, 2, 100, 3}), doctest::Contains("token id 100 outside"), Error);
  CHECK_THROWS_WITH_AS(writer.write_block(std::vector<int32_t>{1, 2}), doctest::Contains("block of 2 tokens, expected 4"), Error);
}

TEST_CASE("damaged shards are refused with the file name") {
  fs::create_directories(work_dir);
  {
    ShardWriter writer(work_dir / "good.bin", 100, 4);
    writer.write_block(std::vector<int32_t>{1, 2, 3, 4});
    writer.finish();
  }
  const std::string good = read_file(work_dir / "good.bin");
  std::ofstream(work_dir / "cut.bin", std::ios::binary) << good.substr(0, good.size() - 2);
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "cut.bin"), doctest::Contains("cut.bin: size 38 bytes does not match"), Error);
  std::ofstream(work_dir / "magic.bin", std::ios::binary) << "XX" + good.substr(2);
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "magic.bin"), doctest::Contains("magic.bin: not a token shard"), Error);
  std::ofstream(work_dir / "tiny.bin", std::ios::binary) << "BG2V";
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "tiny.bin"), doctest::Contains("shorter than the header"), Error);
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "nothing", "train"), doctest::Contains("no shard of split 'train'"), Error);
}

TEST_CASE("shuffled_order is a permutation fixed by the seed") {
  fs::create_directories(work_dir);
  ShardWriter writer(work_dir / "ten.bin", 100, 2);
  for (int b = 0; b < 10; ++b) writer.write_block(std::vector<int32_t>{b, b});
  writer.finish();
  const ShardReader reader(work_dir / "ten.bin");
  const auto a = reader.shuffled_order(7);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(reader.shuffled_order(7) == a);
  CHECK(reader.shuffled_order(8) != a);
  CHECK(a == std::vector<size_t>{1, 4, 2, 3, 5, 9, 6, 0, 8, 7});   // pinned: the same on every platform
}

TEST_CASE("the validation split is decided by the article id alone") {
  int in_val = 0;
  for (int i = 0; i < 10000; ++i) in_val += in_validation_split("id" + std::to_string(i), 0.05);
  CHECK(in_val > 400);
  CHECK(in_val < 600);
  CHECK(in_validation_split("558", 0.05) == in_validation_split(std::string("558"), 0.05));
  CHECK_FALSE(in_validation_split("558", 0.0));
}

TEST_CASE("tokenize_corpus: BOS per document, concatenated, cut into blocks; every token accounted for") {
  const Corpus& c = corpus();
  const fs::path out = work_dir / "shards";
  auto options = quiet_options(64, 0.2);
  options.shard_tokens = 64 * 10;                              // several shards per split
  const TokenizeStats stats = tokenize_corpus(*c.tokenizer, c.articles, out, options);

  std::vector<int32_t> expected_train, expected_val;
  uint64_t val_documents = 0;
  for (const auto& doc : c.documents) {
    const auto ids = c.tokenizer->encode(doc.text, true);
    const bool val = in_validation_split(doc.id, 0.2);
    val_documents += val;
    auto& stream = val ? expected_val : expected_train;
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  CHECK(stats.val.documents == val_documents);
  CHECK(stats.train.documents + stats.val.documents == 300);
  CHECK(stats.train.shards > 1);
  for (auto [split, expected, split_stats] : {std::tuple{"train", &expected_train, stats.train},
                                              std::tuple{"val", &expected_val, stats.val}}) {
    const ShardReader reader(out, split);
    CHECK(reader.num_blocks() == expected->size() / 64);
    CHECK(reader.num_tokens() + split_stats.dropped_tokens == expected->size());
    std::vector<int32_t> read;
    for (size_t b = 0; b < reader.num_blocks(); ++b) {
      const auto block = reader.block(b).to_vector();
      read.insert(read.end(), block.begin(), block.end());
    }
    CHECK(read == std::vector<int32_t>(expected->begin(), expected->begin() + long(read.size())));
  }
  CHECK(ShardReader(out, "train").block(0)[0] == c.tokenizer->bos_id());
  const auto meta = nlohmann::json::parse(read_file(out / "meta.json"));
  CHECK(meta["seq_len"] == 64);
  CHECK(meta["train"]["blocks"] == stats.train.blocks);
}

TEST_CASE("tokenize_corpus: the same shards with one or two threads; excluded articles are left out") {
  const Corpus& c = corpus();
  auto one = quiet_options(32, 0.1);
  one.threads = 1;
  tokenize_corpus(*c.tokenizer, c.articles, work_dir / "one", one);
  auto two = quiet_options(32, 0.1);
  two.threads = 2;
  tokenize_corpus(*c.tokenizer, c.articles, work_dir / "two", two);
  CHECK(read_file(work_dir / "one/train-00000.bin") == read_file(work_dir / "two/train-00000.bin"));
  CHECK(read_file(work_dir / "one/val-00000.bin") == read_file(work_dir / "two/val-00000.bin"));

  auto excluding = quiet_options(32, 0.1);
  excluding.exclude = {"1000", "1001", "no-such-id"};
  const auto stats = tokenize_corpus(*c.tokenizer, c.articles, work_dir / "excl", excluding);
  CHECK(stats.excluded == 2);
  CHECK(stats.train.documents + stats.val.documents == 298);
  size_t first_train = 2;
  while (in_validation_split(c.documents[first_train].id, 0.1)) ++first_train;
  const auto expected = c.tokenizer->encode(c.documents[first_train].text);
  const auto block = ShardReader(work_dir / "excl", "train").block(0).to_vector();
  CHECK(std::vector<int32_t>(block.begin(), block.begin() + 8) == std::vector<int32_t>(expected.begin(), expected.begin() + 8));
}

TEST_CASE("the command line: bg2vec data tokenize") {
  const Corpus& c = corpus();
  const std::string cli = BG2VEC_CLI;
  REQUIRE(!cli.empty());
  std::ofstream(work_dir / "exclude.txt") << "1000\n1001\n";
  const std::string command = cli + " data tokenize -q --tokenizer " + (work_dir / "tok.model").string() +
                              " --input " + c.articles.string() + " --out " + (work_dir / "cli").string() +
                              " --seq-len 128 --val-fraction 0.05 --exclude " + (work_dir / "exclude.txt").string() +
                              " > " + (work_dir / "log").string();
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(read_file(work_dir / "log").find("2 excluded") != std::string::npos);
  CHECK(ShardReader(work_dir / "cli", "train").seq_len() == 128);
  CHECK(std::system((cli + " data tokenize -q --tokenizer none.model --input x --out y 2>/dev/null").c_str()) != 0);
}

// Regressions from fuzzing the shard reader (tests/fuzz/fuzz_shards.cpp, docs/reliability.md).
namespace {
std::string shard_header(uint32_t vocab, uint32_t width, uint32_t seq_len, uint64_t tokens) {
  std::string h(shard_header_bytes, '\0');
  std::memcpy(h.data(), shard_magic, 8);
  std::memcpy(h.data() + 8, &shard_version, 4);
  std::memcpy(h.data() + 12, &vocab, 4);
  std::memcpy(h.data() + 16, &width, 4);
  std::memcpy(h.data() + 20, &seq_len, 4);
  std::memcpy(h.data() + 24, &tokens, 8);
  return h;
}
}  // namespace

TEST_CASE("regression (fuzz_shards): a token count whose byte size overflows is refused, not read past the map") {
  fs::create_directories(work_dir);
  // 2^63 tokens of 2 bytes: 32 + 2^64 wrapped to 32, the size of the header alone, and the blocks were read
  // from beyond the end of the mapping.
  std::ofstream(work_dir / "wrap.bin", std::ios::binary) << shard_header(100, 2, 1, uint64_t(1) << 63);
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "wrap.bin"), doctest::Contains("wrap.bin: size 32 bytes does not match"), Error);
  std::ofstream(work_dir / "wrap4.bin", std::ios::binary) << shard_header(70000, 4, 2, uint64_t(1) << 62);
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "wrap4.bin"), doctest::Contains("does not match the header's"), Error);
  std::ofstream(work_dir / "odd.bin", std::ios::binary) << shard_header(100, 2, 1, 1) + "abc";
  CHECK_THROWS_WITH_AS(ShardReader(work_dir / "odd.bin"), doctest::Contains("does not match the header's 1 tokens"), Error);
}

TEST_CASE("regression (fuzz_shards): a refused shard is unmapped (a throwing constructor runs no destructor)") {
  fs::create_directories(work_dir / "leak");
  std::ofstream(work_dir / "leak" / "train-00000.bin", std::ios::binary) << shard_header(100, 2, 4, 4) + std::string(8, '\0');
  std::ofstream(work_dir / "leak" / "train-00001.bin", std::ios::binary) << shard_header(100, 2, 3, 3) + std::string(6, '\0');
  std::ofstream(work_dir / "leak" / "bad-magic.bin", std::ios::binary) << "XXXXXXXX" + shard_header(100, 2, 4, 0).substr(8);
  for (int i = 0; i < 50; ++i) {
    CHECK_THROWS_AS(ShardReader(work_dir / "leak" / "bad-magic.bin"), Error);
    CHECK_THROWS_WITH_AS(ShardReader(work_dir / "leak", "train"), doctest::Contains("disagrees with the first shard"), Error);
  }
  std::ifstream maps("/proc/self/maps");
  const std::string mapped((std::istreambuf_iterator<char>(maps)), {});
  CHECK(mapped.find((work_dir / "leak").string()) == std::string::npos);   // 150 mappings were left before
}

}  // namespace test_shards
