#pragma once
// The dense side of the index/search/eval commands: which encoder (--model, --attention, --pooling),
// loaded once and run in batches with progress, plus the --threads and --batch-size options they share.
#include "cli.hpp"

#include <bg2vec/core/tensor.hpp>
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/nn/encoder.hpp>

#include <string>
#include <vector>

namespace bg2vec::cli {

struct EncoderChoice {
  std::string model;       // model folder
  std::string attention;   // empty: the folder's default (bg2vec.json)
  std::string pooling;
  backend::Compute compute = backend::Compute::F32;
};

inline void add_encoder_options(po::options_description& options, bool model_required) {
  auto model = po::value<std::string>();
  if (model_required) model->required();
  options.add_options()
      ("model", model, "encoder model: a Hugging Face folder with tokenizer.model, or a GGUF file")
      ("attention", po::value<std::string>()->default_value(""), "causal | bidirectional (default: the folder's bg2vec.json)")
      ("pooling", po::value<std::string>()->default_value(""), "mean | weighted-mean | last | bos (default: bg2vec.json)")
      ("batch-size", po::value<int>()->default_value(16), "texts per forward pass")
      ("threads", po::value<int>()->default_value(0), "CPU threads for FAISS and the model (0: OMP_NUM_THREADS or all cores)");
  add_compute_option(options);
}

inline EncoderChoice encoder_choice(const po::variables_map& vm) {
  return {vm.count("model") ? vm["model"].as<std::string>() : "", vm["attention"].as<std::string>(),
          vm["pooling"].as<std::string>(), compute_choice(vm)};
}

class Embedder {
 public:
  Embedder(const EncoderChoice& choice, int batch_size)
      : encoder_(TextEncoder::load(choice.model, choice.attention, choice.pooling, choice.compute)), batch_size_(batch_size) {
    require(batch_size > 0, "--batch-size must be positive");
  }

  Matrix embed(const std::vector<std::string>& texts, bool progress = true) const {
    return encoder_.encode(texts, batch_size_, progress);
  }
  int dimension() const { return encoder_.dimension(); }
  index::EncoderInfo info(const std::string& model) const {
    return {model, encoder_.settings().attention, encoder_.settings().pooling, encoder_.description()};
  }

 private:
  TextEncoder encoder_;
  int batch_size_;
};

}  // namespace bg2vec::cli
