// bg2vec eval perplexity: how well the causal model predicts texts it is given: every token after BOS
// from the ones before it (transformers' default mask: causal, with the sliding window where the model
// has one). The lm_head runs in chunks of rows, so a 262k vocabulary never needs [tokens, vocab] at once.
#include "cli.hpp"

#include <bg2vec/core/progress.hpp>
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <fstream>
#include <numeric>

namespace bg2vec::cli {
namespace {

int eval_perplexity(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("text-file", po::value<std::string>(), "texts, one per line (through the model's tokenizer)")
      ("ids", po::value<std::string>(), "or token ids: safetensors with input_ids and attention_mask [B, T] (right padding)")
      ("max-length", po::value<int>()->default_value(256), "texts are truncated to this many tokens (BOS included)")
      ("batch-size", po::value<int>()->default_value(8), "texts per forward pass")
      ("json", po::value<std::string>(), "also write the figures as JSON here");
  po::variables_map vm;
  if (!parse("eval perplexity", "Perplexity of the causal model on texts (one per line) or token ids.", options, args, vm)) return 0;
  if (vm.count("text-file") + vm.count("ids") != 1) fail("give exactly one of --text-file and --ids");
  const std::filesystem::path model_path = vm["model"].as<std::string>();
  const std::filesystem::path file = vm.count("ids") ? vm["ids"].as<std::string>() : vm["text-file"].as<std::string>();
  const int max_length = vm["max-length"].as<int>(), batch_size = vm["batch-size"].as<int>();
  require(max_length > 1 && batch_size > 0, "--max-length must be above 1 and --batch-size positive");

  const Model model = load_model(model_path);
  std::vector<std::vector<int32_t>> texts;
  size_t characters = 0;                               // of the texts (bits per byte); 0 for --ids
  auto keep = [&](std::vector<int32_t> ids) {          // a text counts if it has a token to predict
    if (ids.size() > size_t(max_length)) ids.resize(size_t(max_length));
    if (ids.size() < 2) return false;
    texts.push_back(std::move(ids));
    return true;
  };
  if (vm.count("ids")) {
    const TokenBatch batch = io::read_token_batch(io::SafetensorsFile(file));
    for (int b = 0; b < batch.batch; ++b) {
      std::vector<int32_t> ids;
      for (int t = 0; t < batch.seq_len && batch.mask[size_t(b) * size_t(batch.seq_len) + size_t(t)]; ++t)
        ids.push_back(batch.ids[size_t(b) * size_t(batch.seq_len) + size_t(t)]);
      keep(std::move(ids));
    }
  } else {
    std::ifstream in(file);
    if (!in) fail(file, "cannot open");
    const text::Tokenizer tokenizer = load_tokenizer(model_path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && keep(tokenizer.encode(line, /*add_bos=*/true))) characters += line.size();
  }
  if (texts.empty()) fail(file, "no text with at least one token to predict");
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a].size() < texts[b].size(); });

  const Decoder<Causal> decoder(model);
  double nll = 0;
  size_t predicted = 0;
  Progress bar("perplexity", double(texts.size()), "texts");
  for (size_t start = 0; start < order.size(); start += size_t(batch_size)) {
    const size_t end = std::min(order.size(), start + size_t(batch_size));
    TokenBatch batch;
    batch.batch = int(end - start);
    batch.seq_len = int(texts[order[end - 1]].size());
    batch.ids.assign(size_t(batch.tokens()), model.config().pad_token_id);
    batch.mask.assign(size_t(batch.tokens()), 0);
    std::vector<layers::Prediction> predictions;
    for (size_t i = start; i < end; ++i) {
      const auto& t = texts[order[i]];
      const size_t row = (i - start) * size_t(batch.seq_len);
      std::copy(t.begin(), t.end(), batch.ids.begin() + long(row));
      std::fill_n(batch.mask.begin() + long(row), t.size(), 1);
      for (size_t p = 0; p + 1 < t.size(); ++p) predictions.push_back({Eigen::Index(row + p), t[p + 1]});
    }
    Activations acts(model.config(), batch.batch, batch.seq_len, /*keep_all_layers=*/false);
    decoder.forward(batch, acts);
    nll += layers::lm_head_cross_entropy(acts.hidden(), model.weights().lm_head, predictions, 1.0f, nullptr, nullptr,
                                         decoder.final_softcap(), /*chunk=*/256);
    predicted += predictions.size();
    bar.update(double(end), std::to_string(predicted) + " tokens");
  }
  bar.finish();
  const double mean = nll / double(predicted), perplexity = std::exp(mean);
  std::printf("texts %zu, tokens predicted %zu, mean NLL %.6f nats/token, perplexity %.3f", texts.size(), predicted, mean, perplexity);
  if (characters) std::printf(", %.3f bits/byte", nll / std::log(2.0) / double(characters));
  std::printf("\n");
  if (vm.count("json")) {
    nlohmann::json j = {{"model", model_path.string()}, {"texts", texts.size()}, {"tokens", predicted}, {"nll", mean},
                        {"perplexity", perplexity}};
    if (characters) j["bits_per_byte"] = nll / std::log(2.0) / double(characters);
    write_file_atomically(vm["json"].as<std::string>(), j.dump(2) + "\n");
  }
  return 0;
}

const Command registered_eval_perplexity{"eval perplexity", "perplexity of the causal model on texts (one per line)", eval_perplexity};

}  // namespace
}  // namespace bg2vec::cli
