// Encoding text: tokenizer + model + attention + pooling. Batching, sorting and padding never change
// an embedding, the folder's bg2vec.json chooses the defaults, and the CLI gives the library's result.
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>
#include <doctest/doctest.h>

#include <fstream>

#include "support.hpp"

namespace test_encoder {

using namespace bg2vec;

namespace {

const std::vector<std::string> kTexts = {
    "София е столицата на България.",
    "Пловдив е един от най-старите градове в Европа, по-стар от Рим и Атина.",
    "Рила",
    "Черно море е вътрешно море между Европа и Азия.",
    "Дунав е втората по дължина река в Европа след Волга.",
};

// The mistral-dev weights with a small Bulgarian tokenizer trained here (vocabulary <= 384).
struct TextModel {
  test::TempDir dir{"encoder-model"};
  TextModel() {
    for (const char* f : {"config.json", "model.safetensors"})
      std::filesystem::copy_file(test::fixture(std::string("hf/mistral-dev/") + f), dir / f);
    std::ofstream corpus(dir / "corpus.txt");
    for (int i = 0; i < 20; ++i)
      for (const auto& t : kTexts) corpus << t << "\n";
    corpus.close();
    text::TokenizerTrainOptions options;
    options.vocab_size = 320;
    text::train_tokenizer(dir / "corpus.txt", dir / "tokenizer.model", options);
  }
};

}  // namespace

TEST_CASE("a text's embedding does not depend on its batch, its neighbours or the padding") {
  TextModel m;
  const auto encoder = TextEncoder::load(m.dir.path, "bidirectional", "mean");
  const Matrix together = encoder.encode(kTexts, /*batch_size=*/2);
  REQUIRE(together.rows() == Eigen::Index(kTexts.size()));
  for (size_t i = 0; i < kTexts.size(); ++i) {
    CAPTURE(i);
    const TokenBatch alone = encoder.tokenizer().encode_batch({kTexts[i]}, 512);
    const Matrix expected = embed<Bidirectional, pool::Mean>(encoder.model(), alone);
    CHECK(test::relative_error(test::span_of(together.row(Eigen::Index(i))), test::span_of(expected)) < 1e-5);
  }
}

TEST_CASE("a workspace reused from batch to batch, shrinking and growing, gives the embeddings of fresh activations bit for bit") {
  TextModel m;
  const auto encoder = TextEncoder::load(m.dir.path, "causal", "weighted-mean");
  Activations workspace(encoder.model().config(), 1, 1, ActivationMemory::OneLayer);
  // Longest first, then shorter (the arena keeps the longer batch's values), then a larger batch (it grows).
  for (const std::vector<std::string>& texts : {kTexts, std::vector<std::string>{kTexts[2]},
                                                std::vector<std::string>{kTexts[1], kTexts[3], kTexts[0], kTexts[4], kTexts[1]}}) {
    CAPTURE(texts.size());
    const TokenBatch batch = encoder.tokenizer().encode_batch(texts, 512);
    const size_t before = workspace.arena_bytes();
    const Matrix reused = embed<Causal, pool::WeightedMean>(encoder.model(), batch, nullptr, {}, &workspace);
    const Matrix fresh = embed<Causal, pool::WeightedMean>(encoder.model(), batch);
    CHECK(reused == fresh);
    CHECK(workspace.bytes() <= workspace.arena_bytes());
    CHECK(workspace.arena_bytes() >= before);
  }
  Activations training(encoder.model().config(), 1, 1, ActivationMemory::AllLayers);
  const auto embed_into_training = [&] { embed(encoder.model(), encoder.tokenizer().encode_batch(kTexts, 512), "causal", "mean", nullptr, {}, &training); };
  CHECK_THROWS_WITH_AS(embed_into_training(), doctest::Contains("OneLayer"), Error);
}

TEST_CASE("bg2vec.json sets the encoder's defaults; arguments override them") {
  TextModel m;
  CHECK(TextEncoder::load(m.dir.path).description().find("causal, weighted-mean") != std::string::npos);
  EncoderSettings s;
  s.attention = "bidirectional";
  s.pooling = "mean";
  s.skip_bos = true;
  s.save(m.dir.path);
  const auto from_file = TextEncoder::load(m.dir.path);
  CHECK(from_file.settings().attention == "bidirectional");
  CHECK(from_file.settings().skip_bos);
  CHECK(TextEncoder::load(m.dir.path, "causal", "last").settings().pooling == "last");

  // Leaving BOS out of the mean is the mean over the other tokens.
  const Matrix without_bos = from_file.encode({kTexts[1]});
  TokenBatch batch = from_file.tokenizer().encode_batch({kTexts[1]}, 512);
  batch.pool_mask = batch.mask;
  batch.pool_mask[0] = 0;
  CHECK(test::relative_error(test::span_of(without_bos), test::span_of(embed<Bidirectional, pool::Mean>(from_file.model(), batch))) <
        1e-5);
}

TEST_CASE("a tokenizer that does not fit the model, or no tokenizer, is refused") {
  TextModel m;
  text::TokenizerTrainOptions options;
  options.vocab_size = 500;
  std::ofstream corpus(m.dir / "big.txt");               // many distinct syllable-words: plenty of merges
  const std::vector<std::string> syllables = {"ба", "ве", "ги", "до", "жу", "зе", "ки", "ло", "му", "не", "пи", "ро", "са", "ту"};
  for (size_t i = 0; i < 3000; ++i)
    corpus << syllables[i % 14] << syllables[(i / 14) % 14] << syllables[(i * 7) % 13] << " " << syllables[(i * 3) % 11]
           << syllables[(i / 5) % 14] << "\n";
  corpus.close();
  text::train_tokenizer(m.dir / "big.txt", m.dir / "tokenizer.model", options);
  REQUIRE(text::Tokenizer(m.dir / "tokenizer.model").vocab_size() > 384);
  CHECK_THROWS_WITH_AS(TextEncoder::load(m.dir.path), doctest::Contains("not this model's tokenizer"), Error);
  std::filesystem::remove(m.dir / "tokenizer.model");
  CHECK_THROWS_WITH_AS(TextEncoder::load(m.dir.path), doctest::Contains("no tokenizer.model"), Error);
}

TEST_CASE("bg2vec encode --text-file gives the library's embeddings") {
  TextModel m;
  {
    std::ofstream texts(m.dir / "texts.txt");
    for (const auto& t : kTexts) texts << t << "\n";
  }
  const auto out = m.dir / "e.safetensors";
  const std::string command = std::string(BG2VEC_CLI) + " encode --model " + m.dir.path.string() + " --text-file " +
                              (m.dir / "texts.txt").string() + " --attention bidirectional --pooling mean --out " +
                              out.string() + " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  const Matrix expected = TextEncoder::load(m.dir.path, "bidirectional", "mean").encode(kTexts);
  CHECK(test::relative_error(io::SafetensorsFile(out).read_float32("embeddings"), test::span_of(expected)) < 1e-6);
}

}  // namespace test_encoder
