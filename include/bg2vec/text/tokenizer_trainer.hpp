#pragma once
// Training a sentencepiece tokenizer for Bulgarian text, set up for the LLM2Vec recipe:
//   ids 0..3 = <pad>, <s>, </s>, <unk>   (pad first, so that zero-initialised batches are padding)
//   the MNTP mask piece "_" exists as a user-defined piece (the recipe masks with "_", like Mistral)
//   byte fallback and character coverage 1.0: every Cyrillic letter is a piece, anything else is bytes
//   identity normalisation: decode(encode(text)) == text, no NFKC rewriting.
// Training reads the paragraphs of articles.jsonl (or the lines of a plain text file) through an
// iterator; sentencepiece keeps a random sample of at most `max_sentences` of them in memory.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/text/articles.hpp>

#include <sentencepiece_trainer.h>
#include <string>
#include <unordered_map>

// Exported by libsentencepiece (0.1.9x and 0.2.x) but declared only in its internal common.h: the
// threshold of its LOG(INFO) chatter, which would otherwise fill stderr during training.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace bg2vec::text {

inline constexpr std::string_view mask_piece = "_";

struct TokenizerTrainOptions {
  int vocab_size = 32000;
  std::string model_type = "bpe";          // "bpe" or "unigram"
  size_t max_sentences = 2000000;          // paragraphs sampled for training (memory bound)
  int threads = 2;
  unsigned seed = 42;
  bool verbose = false;                    // sentencepiece's training log on stderr
};

namespace tokenizer_detail {

// Paragraphs (lines) of the articles, one at a time.
class ParagraphIterator : public sentencepiece::SentenceIterator {
 public:
  explicit ParagraphIterator(const std::filesystem::path& input) : reader_(input) { Next(); }
  bool done() const override { return done_; }
  const std::string& value() const override { return paragraph_; }
  sentencepiece::util::Status status() const override { return status_; }
  void Next() override {
    try {
      while (true) {
        if (rest_.empty()) {
          if (!reader_.next(article_)) { done_ = true; return; }
          rest_ = article_.text;
        }
        const size_t nl = rest_.find('\n');
        paragraph_.assign(rest_.substr(0, nl));
        rest_ = nl == std::string_view::npos ? std::string_view{} : rest_.substr(nl + 1);
        if (!paragraph_.empty()) return;
      }
    } catch (const Error& e) {
      status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kInvalidArgument, e.what());
      done_ = true;
    }
  }

 private:
  ArticleReader reader_;
  Article article_;
  std::string_view rest_;
  std::string paragraph_;
  sentencepiece::util::Status status_;
  bool done_ = false;
};

}  // namespace tokenizer_detail

// Trains on `input` (articles.jsonl, or plain text with one text per line) and writes the model to
// `model_file` (atomically). Throws bg2vec::Error on bad options, bad input or a failed training.
inline void train_tokenizer(const std::filesystem::path& input, const std::filesystem::path& model_file,
                            const TokenizerTrainOptions& options = {}) {
  if (options.model_type != "bpe" && options.model_type != "unigram")
    fail("tokenizer model type must be bpe or unigram, not '" + options.model_type + "'");
  if (options.vocab_size < 300)
    fail("vocabulary size " + std::to_string(options.vocab_size) + " is too small: the 256 byte pieces need more");
  const std::unordered_map<std::string, std::string> spec = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"max_sentence_length", "16384"},
      {"input_sentence_size", std::to_string(options.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(options.threads)},
      {"pad_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"unk_id", "3"},
      {"user_defined_symbols", std::string(mask_piece)},
      {"hard_vocab_limit", "false"},                       // a small corpus may not fill the vocabulary
  };
  sentencepiece::SetRandomGeneratorSeed(options.seed);
  sentencepiece::logging::SetMinLogLevel(options.verbose ? 0 : 1);
  tokenizer_detail::ParagraphIterator paragraphs(input);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(spec, &paragraphs, &model);
  if (!paragraphs.status().ok()) fail(paragraphs.status().error_message());
  if (!status.ok()) fail(input, "tokenizer training failed: " + status.ToString());
  write_file_atomically(model_file, model);
}

}  // namespace bg2vec::text
