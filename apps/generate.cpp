// bg2vec generate: greedy continuations of prompts by the causal model. A quick check that a model read
// from GGUF (or imported, or trained) is still the language model it should be.
#include "cli.hpp"

#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/encoder.hpp>

namespace bg2vec::cli {
namespace {

// The id the model predicts after `ids` (greedy: the largest logit of the last position).
int32_t next_token(const Model& model, const std::vector<int32_t>& ids) {
  TokenBatch batch;
  batch.batch = 1;
  batch.seq_len = int(ids.size());
  batch.ids = ids;
  batch.mask.assign(ids.size(), 1);
  Activations acts(model.config(), 1, batch.seq_len, /*keep_all_layers=*/false);
  Decoder<Causal>(model).forward(batch, acts);
  // Only the last position is needed; a soft-cap is monotonic, so it cannot change the argmax.
  const Eigen::RowVectorXf logits = acts.hidden().row(batch.seq_len - 1) * model.weights().lm_head.transpose();
  Eigen::Index best = 0;
  logits.maxCoeff(&best);
  return int32_t(best);
}

int generate(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("prompt", po::value<std::vector<std::string>>()->required(), "a prompt (repeat for more)")
      ("tokens", po::value<int>()->default_value(24), "most new tokens per prompt (stops early at EOS)");
  po::variables_map vm;
  if (!parse("generate", "Greedy continuations of prompts by the causal model (a sanity check of a model).", options, args, vm))
    return 0;
  const std::filesystem::path model_path = vm["model"].as<std::string>();
  const int max_new = vm["tokens"].as<int>();
  require(max_new > 0 && max_new <= 4096, "--tokens must be in 1..4096");
  const Model model = load_model(model_path);
  const text::Tokenizer tokenizer = load_tokenizer(model_path);
  for (const std::string& prompt : vm["prompt"].as<std::vector<std::string>>()) {
    std::vector<int32_t> ids = tokenizer.encode(prompt, /*add_bos=*/true);
    const size_t prompt_tokens = ids.size();
    for (int i = 0; i < max_new; ++i) {
      const int32_t id = next_token(model, ids);
      if (id == tokenizer.eos_id()) break;
      ids.push_back(id);
    }
    const std::vector<int32_t> continuation(ids.begin() + long(prompt_tokens), ids.end());
    std::printf("%s|%s\n", prompt.c_str(), tokenizer.decode(continuation).c_str());
    std::fflush(stdout);
  }
  return 0;
}

const Command registered_generate{"generate", "greedy continuations of prompts by the causal model (sanity check)", generate};

}  // namespace
}  // namespace bg2vec::cli
