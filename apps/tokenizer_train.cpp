// bg2vec tokenizer train: a sentencepiece tokenizer (pad/bos/eos/unk = 0..3, mask piece "_", byte
// fallback, full Cyrillic coverage) from articles.jsonl or plain text.
#include "cli.hpp"

#include <bg2vec/text/tokenizer.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

namespace bg2vec::cli {

static int tokenizer_train(const Args& args) {
  po::options_description options("options");
  std::string input, out;
  text::TokenizerTrainOptions train;
  options.add_options()
      ("input", po::value(&input)->required(), "articles.jsonl, or a text file with one text per line")
      ("out", po::value(&out)->required(), "the model file to write (e.g. tok.model)")
      ("vocab-size", po::value(&train.vocab_size)->default_value(train.vocab_size), "vocabulary size")
      ("model-type", po::value(&train.model_type)->default_value(train.model_type), "bpe or unigram")
      ("max-sentences", po::value(&train.max_sentences)->default_value(train.max_sentences),
       "paragraphs sampled for training (bounds memory)")
      ("threads", po::value(&train.threads)->default_value(train.threads), "training threads")
      ("seed", po::value(&train.seed)->default_value(train.seed), "random seed of the sampling")
      ("verbose,v", po::bool_switch(&train.verbose), "show sentencepiece's training log");
  po::variables_map vm;
  if (!parse("tokenizer train", "Trains a sentencepiece tokenizer on articles.jsonl or plain text.", options, args,
             vm))
    return 0;
  text::train_tokenizer(input, out, train);
  const text::Tokenizer tokenizer(out);
  std::printf("%s: %d pieces (pad %d, bos %d, eos %d, unk %d, mask '_' %d)\n", out.c_str(), tokenizer.vocab_size(),
              tokenizer.pad_id(), tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.unk_id(),
              tokenizer.piece_to_id(text::mask_piece));
  return 0;
}

static const Command registered_tokenizer_train{"tokenizer train", "train a sentencepiece tokenizer (bpe|unigram) on articles",
                                tokenizer_train};

}  // namespace bg2vec::cli
