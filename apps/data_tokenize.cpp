// bg2vec data tokenize: articles.jsonl -> train/val token shards of fixed-length blocks.
#include "cli.hpp"

#include <bg2vec/data/tokenize_corpus.hpp>

namespace bg2vec::cli {

static int data_tokenize(const Args& args) {
  po::options_description options("options");
  std::string tokenizer, input, out, exclude;
  data::TokenizeOptions tokenize;
  options.add_options()
      ("tokenizer", po::value(&tokenizer)->required(), "sentencepiece model (tokenizer.model)")
      ("input", po::value(&input)->required(), "articles.jsonl (or plain text, one document per line)")
      ("out", po::value(&out)->required(), "output folder: train-NNNNN.bin, val-NNNNN.bin, meta.json")
      ("seq-len", po::value(&tokenize.seq_len)->default_value(tokenize.seq_len), "tokens per block")
      ("val-fraction", po::value(&tokenize.val_fraction)->default_value(tokenize.val_fraction),
       "fraction of the articles (chosen by a hash of their id) in the validation split")
      ("exclude", po::value(&exclude), "file of article ids (one per line) to leave out, e.g. DIR/article_ids.txt "
                                       "written by `data make-retrieval`")
      ("shard-tokens", po::value(&tokenize.shard_tokens)->default_value(tokenize.shard_tokens), "tokens per shard file")
      ("threads", po::value(&tokenize.threads)->default_value(tokenize.threads), "tokenizing threads")
      ("quiet,q", po::bool_switch(), "no progress on stderr");
  po::variables_map vm;
  if (!parse("data tokenize", "Tokenizes articles into fixed-length blocks (BOS per document) in binary shards.",
             options, args, vm))
    return 0;
  tokenize.progress = !vm["quiet"].as<bool>();
  if (!exclude.empty()) tokenize.exclude = data::read_id_list(exclude);
  const auto stats = data::tokenize_corpus(text::Tokenizer(tokenizer), input, out, tokenize);
  std::printf("%s: train %llu documents, %llu blocks; val %llu documents, %llu blocks; %llu excluded "
              "(%.0f tokens/s)\n", out.c_str(), (unsigned long long)stats.train.documents,
              (unsigned long long)stats.train.blocks, (unsigned long long)stats.val.documents,
              (unsigned long long)stats.val.blocks, (unsigned long long)stats.excluded,
              double(stats.train.tokens + stats.val.tokens + stats.train.dropped_tokens + stats.val.dropped_tokens) /
                  std::max(stats.seconds, 1e-9));
  return 0;
}

static const Command registered_data_tokenize{"data tokenize", "articles.jsonl -> train/val token shards of fixed-length blocks",
                                data_tokenize};

}  // namespace bg2vec::cli
