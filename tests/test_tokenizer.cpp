// The sentencepiece tokenizer: trained here on the shipped Bulgarian sentences (WikiANN), it keeps
// the special pieces where the recipe expects them and round-trips Bulgarian text exactly.
#include <bg2vec/text/bz2_stream.hpp>
#include <bg2vec/text/tokenizer.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "support.hpp"

namespace test_tokenizer {

namespace fs = std::filesystem;
using namespace bg2vec::text;

namespace {

const fs::path work_dir = fs::temp_directory_path() / ("bg2vec-test-tokenizer-" + std::to_string(::getpid()));

// The shipped sentences, decompressed: lines [0, 4000) train, the rest are held out.
const std::vector<std::string>& sentences() {
  static const std::vector<std::string> lines = [] {
    DumpSource source(fs::path(BG2VEC_REPO_DATA) / "corpus/wikiann-bg.sentences.txt.bz2");
    std::string all, chunk(1 << 20, '\0');
    while (size_t n = source.read(chunk.data(), chunk.size())) all.append(chunk, 0, n);
    std::vector<std::string> out;
    std::istringstream in(all);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }();
  return lines;
}

fs::path write_lines(const std::string& name, size_t begin, size_t end) {
  fs::create_directories(work_dir);
  std::ofstream out(work_dir / name);
  for (size_t i = begin; i < end; ++i) out << sentences()[i] << '\n';
  return work_dir / name;
}

// One BPE model for the whole suite (trained once).
const Tokenizer& bpe() {
  static const Tokenizer tokenizer = [] {
    TokenizerTrainOptions options;
    options.vocab_size = 1000;
    train_tokenizer(write_lines("train.txt", 0, 4000), work_dir / "bpe.model", options);
    return Tokenizer(work_dir / "bpe.model");
  }();
  return tokenizer;
}

struct Cleanup {
  ~Cleanup() { fs::remove_all(work_dir); }
} cleanup;

}  // namespace

TEST_CASE("a trained tokenizer has pad 0, bos 1, eos 2, unk 3 and the mask piece '_'") {
  const Tokenizer& tok = bpe();
  CHECK(tok.vocab_size() == 1000);
  CHECK(tok.pad_id() == 0);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.unk_id() == 3);
  CHECK(tok.id_to_piece(tok.piece_to_id("_")) == "_");
  CHECK(tok.encode("_", false) == std::vector<int32_t>{tok.piece_to_id("▁"), tok.piece_to_id("_")});
}

TEST_CASE("encode and decode are lossless on held-out Bulgarian text, and on any other text via bytes") {
  const Tokenizer& tok = bpe();
  const auto& lines = sentences();
  REQUIRE(lines.size() > 30000);
  for (size_t i = 4000; i < 6000; ++i) {
    const auto ids = tok.encode(lines[i]);
    REQUIRE_MESSAGE(tok.decode(ids) == lines[i], lines[i]);
  }
  for (std::string text : {"Щъркелът ЁЪЬ ѝ – „цитат“ № 5 € 2½", "emoji 🙂 и 中文 и Ω", "два  интервала\nи нов ред",
                           "маска _ _ в текста"})
    CHECK(tok.decode(tok.encode(text)) == text);
  CHECK(tok.decode(tok.encode("Ѣ", false)).size() == 2);   // one rare letter: byte pieces, not <unk>
  for (int32_t id : tok.encode("България е държава в Югоизточна Европа.")) CHECK(id != tok.unk_id());
}

TEST_CASE("bos and eos are added on request") {
  const Tokenizer& tok = bpe();
  const auto plain = tok.encode("София", false, false);
  const auto both = tok.encode("София", true, true);
  REQUIRE(both.size() == plain.size() + 2);
  CHECK(both.front() == tok.bos_id());
  CHECK(both.back() == tok.eos_id());
}

TEST_CASE("encode_batch: right padding with the pad id, a mask, truncation that keeps BOS (and EOS)") {
  const Tokenizer& tok = bpe();
  const std::string long_text = sentences()[10] + " " + sentences()[11];
  const auto batch = tok.encode_batch({"Да.", long_text}, 8);
  CHECK(batch.batch == 2);
  CHECK(batch.seq_len == 8);
  const auto short_ids = tok.encode("Да.");
  REQUIRE(short_ids.size() < 8);
  CHECK(batch.length(0) == int(short_ids.size()));
  CHECK(batch.length(1) == 8);
  CHECK(batch.id(0, 0) == tok.bos_id());
  CHECK(batch.id(1, 0) == tok.bos_id());
  CHECK(batch.id(0, 7) == tok.pad_id());
  CHECK_FALSE(batch.real(0, 7));
  const auto full = tok.encode(long_text);
  CHECK(std::vector<int32_t>(batch.ids.begin() + 8, batch.ids.end()) == std::vector<int32_t>(full.begin(), full.begin() + 8));
  const auto with_eos = tok.encode_batch({long_text}, 8, true, true);
  CHECK(with_eos.id(0, 7) == tok.eos_id());
  const auto short_batch = tok.encode_batch({"а", "б"}, 64);
  CHECK(short_batch.seq_len < 64);   // as long as its longest row
  CHECK_THROWS_AS(tok.encode_batch({"а"}, 1, true, true), bg2vec::Error);
}

TEST_CASE("unknown pieces and ids are errors") {
  const Tokenizer& tok = bpe();
  CHECK_THROWS_WITH_AS(tok.piece_to_id("няма-такова-парче"), doctest::Contains("not in the vocabulary"), bg2vec::Error);
  CHECK(tok.piece_to_id("<unk>") == tok.unk_id());
  CHECK_THROWS_AS(tok.id_to_piece(1000), bg2vec::Error);
  const std::vector<int32_t> bad{5, -1};
  CHECK_THROWS_WITH_AS(tok.decode(bad), doctest::Contains("cannot decode id -1"), bg2vec::Error);
}

TEST_CASE("a missing or broken model file is an error naming the file") {
  fs::create_directories(work_dir);
  CHECK_THROWS_WITH_AS(Tokenizer(work_dir / "none.model"), doctest::Contains("none.model: tokenizer model not found"),
                       bg2vec::Error);
  std::ofstream(work_dir / "broken.model") << "not a model";
  CHECK_THROWS_WITH_AS(Tokenizer(work_dir / "broken.model"), doctest::Contains("broken.model: not a sentencepiece model"),
                       bg2vec::Error);
}

TEST_CASE("training: unigram from articles.jsonl, and bad options") {
  fs::create_directories(work_dir);
  {
    std::ofstream out(work_dir / "articles.jsonl");
    for (size_t i = 0; i < 3000; i += 3)
      out << article_json_line({std::to_string(i), "", sentences()[i] + "\n" + sentences()[i + 1]});
  }
  TokenizerTrainOptions options;
  options.vocab_size = 600;
  options.model_type = "unigram";
  train_tokenizer(work_dir / "articles.jsonl", work_dir / "uni.model", options);
  const Tokenizer uni(work_dir / "uni.model");
  CHECK(uni.vocab_size() <= 600);
  CHECK(uni.pad_id() == 0);
  CHECK(uni.decode(uni.encode(sentences()[5000])) == sentences()[5000]);

  options.model_type = "wordpiece";
  CHECK_THROWS_WITH_AS(train_tokenizer(work_dir / "articles.jsonl", work_dir / "x.model", options),
                       doctest::Contains("bpe or unigram"), bg2vec::Error);
  CHECK_THROWS_WITH_AS(train_tokenizer(work_dir / "missing.jsonl", work_dir / "x.model"),
                       doctest::Contains("missing.jsonl: cannot open"), bg2vec::Error);
  CHECK_FALSE(fs::exists(work_dir / "x.model"));
}

TEST_CASE("regression (fuzz_tokenizer_model): a tokenizer.model with an empty piece is an error naming the file") {
  // sentencepiece throws from its trie builder (Darts: "zero-length key") instead of returning a status;
  // uncaught, that ended the process.
  const auto file = bg2vec::test::fixture("fuzz-regressions/tokenizer-empty-piece.model");
  CHECK_THROWS_WITH_AS(Tokenizer{file}, doctest::Contains((file.string() + ": not a usable sentencepiece model").c_str()),
                       bg2vec::Error);
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  CHECK_THROWS_WITH_AS(Tokenizer::from_serialized(bytes, "in memory"), doctest::Contains("in memory: not a usable sentencepiece model"),
                       bg2vec::Error);
}

}  // namespace test_tokenizer
