#pragma once
// From texts (or token batches) to embeddings: a model, its tokenizer, an attention policy and a
// pooling. `embed<Attn, Pool>` is the compile-time core; `TextEncoder` chooses both at run time from
// the command line or the folder's `bg2vec.json` (written by training), for apps that load any model.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/inference_model.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/text/gguf_vocabulary.hpp>
#include <bg2vec/text/tokenizer.hpp>

#include <algorithm>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>

namespace bg2vec {

namespace detail {
// The inference activations of `batch`: `workspace` reshaped (so that its arena serves batch after batch), or,
// without one, a fresh set in `local`.
inline Activations& inference_activations(const io::ModelConfig& c, const TokenBatch& batch, Activations* workspace,
                                          std::optional<Activations>& local) {
  if (!workspace) return local.emplace(c, batch.batch, batch.seq_len, ActivationMemory::OneLayer);
  require(!workspace->trainable(), "an encoding workspace keeps one layer's activations (ActivationMemory::OneLayer)");
  workspace->reshape(c, batch.batch, batch.seq_len);
  return *workspace;
}
}  // namespace detail

// Final hidden states pooled per row: [B, H]. `projections`: the compute type of the matrix products
// (float32 by default; Projections(model.weights(), backend::Compute::Bf16) for bf16). `workspace`:
// activations to reuse from batch to batch (OneLayer), or none.
template <AttentionPolicy Attn, pool::Pooling Pool>
Matrix embed(const Model& model, const TokenBatch& batch, Matrix* logits = nullptr, const Projections& projections = {},
             Activations* workspace = nullptr) {
  std::optional<Activations> local;
  Activations& acts = detail::inference_activations(model.config(), batch, workspace, local);
  const Decoder<Attn> decoder(model, nullptr, projections);
  decoder.forward(batch, acts);
  if (logits) decoder.logits(acts, *logits);
  return pool::pool_forward<Pool>(acts.hidden(), batch);
}

// The tokenizer of a model: a folder's tokenizer.model, or the one rebuilt from a GGUF file's vocabulary.
inline bool has_tokenizer(const std::filesystem::path& model) {
  return is_gguf(model) || std::filesystem::exists(model / "tokenizer.model");
}

inline text::Tokenizer load_tokenizer(const std::filesystem::path& model) {
  if (is_gguf(model)) return text::tokenizer_from_gguf(gguf::GgufFile(model));
  if (!has_tokenizer(model)) fail(model, "no tokenizer.model in the model folder (needed to encode text)");
  return text::Tokenizer(model / "tokenizer.model");
}

// Writes the model's tokenizer as dir/tokenizer.model, if it has one (a trained or stepped model keeps it).
inline void save_tokenizer(const std::filesystem::path& model, const std::filesystem::path& dir) {
  if (has_tokenizer(model)) load_tokenizer(model).save(dir / "tokenizer.model");
}

// How a folder's model is used as an encoder; stored as `bg2vec.json` beside config.json.
struct EncoderSettings {
  std::string attention = "causal";            // a plain decoder: causal attention ...
  std::string pooling = "weighted-mean";       // ... and weighted mean, its best pooling (LLM2Vec, Table 1)
  bool skip_bos = false;                       // leave BOS out of pooling (it carries no content)
  int max_length = 512;                        // texts are truncated to this many tokens

  static EncoderSettings load(const std::filesystem::path& model_dir) {
    EncoderSettings s;
    if (std::filesystem::is_regular_file(model_dir)) return from_gguf(gguf::GgufFile(model_dir));
    const auto file = model_dir / "bg2vec.json";
    if (!std::filesystem::exists(file)) return s;
    try {
      std::ifstream in(file);
      const auto j = nlohmann::json::parse(in);
      s.attention = j.value("attention", s.attention);
      s.pooling = j.value("pooling", s.pooling);
      s.skip_bos = j.value("skip_bos", s.skip_bos);
      s.max_length = j.value("max_length", s.max_length);
    } catch (const nlohmann::json::exception& e) {
      fail(file, std::string("not a valid encoder settings file: ") + e.what());
    }
    return s;
  }

  // A GGUF file written by `gguf export` keeps them as bg2vec.attention, bg2vec.pooling, bg2vec.skip_bos, bg2vec.max_length;
  // any other GGUF gets the defaults of a plain decoder.
  static EncoderSettings from_gguf(const gguf::GgufFile& f) {
    EncoderSettings s;
    s.attention = f.find_string("bg2vec.attention").value_or(s.attention);
    s.pooling = f.find_string("bg2vec.pooling").value_or(s.pooling);
    s.max_length = int(f.find_integer("bg2vec.max_length").value_or(s.max_length));
    s.skip_bos = f.find_bool("bg2vec.skip_bos").value_or(s.skip_bos);
    return s;
  }

  void save(const std::filesystem::path& model_dir) const {
    const nlohmann::json j = {{"attention", attention}, {"pooling", pooling}, {"skip_bos", skip_bos}, {"max_length", max_length}};
    write_file_atomically(model_dir / "bg2vec.json", j.dump(2) + "\n");
  }
};

// Pooled embeddings of `batch` with policies chosen at run time.
inline Matrix embed(const Model& model, const TokenBatch& batch, const std::string& attention, const std::string& pooling,
                    Matrix* logits = nullptr, const Projections& projections = {}, Activations* workspace = nullptr) {
  return with_attention(attention, [&]<class Attn>() {
    return pool::with_pooling(pooling, [&]<class Pool>() { return embed<Attn, Pool>(model, batch, logits, projections, workspace); });
  });
}

// One forward pass, several poolings of its final hidden states: [B, H] per name in `poolings`.
inline std::vector<Matrix> embed_poolings(const Model& model, const TokenBatch& batch, const std::string& attention,
                                          const std::vector<std::string>& poolings, const Projections& projections = {},
                                          Activations* workspace = nullptr) {
  return with_attention(attention, [&]<class Attn>() {
    std::optional<Activations> local;
    Activations& acts = detail::inference_activations(model.config(), batch, workspace, local);
    Decoder<Attn>(model, nullptr, projections).forward(batch, acts);
    std::vector<Matrix> out;
    for (const auto& name : poolings)
      out.push_back(pool::with_pooling(name, [&]<class Pool>() { return pool::pool_forward<Pool>(acts.hidden(), batch); }));
    return out;
  });
}

class TextEncoder {
 public:
  // model_dir: an HF folder (config.json, weights, tokenizer.model) or a GGUF file; empty attention/pooling = the
  // folder's bg2vec.json, or causal + weighted mean for a plain decoder. `compute`: the matrix products' type; bf16
  // loads the projections as bf16 copies only (nn/inference_model.hpp), so the encoder stays bf16.
  static TextEncoder load(const std::filesystem::path& model_dir, std::string attention = "", std::string pooling = "",
                          backend::Compute compute = backend::Compute::F32) {
    EncoderSettings settings = EncoderSettings::load(model_dir);
    if (!attention.empty()) settings.attention = std::move(attention);
    if (!pooling.empty()) settings.pooling = std::move(pooling);
    return load(model_dir, settings, compute);
  }

  // With explicit settings (the folder's bg2vec.json is not read).
  static TextEncoder load(const std::filesystem::path& model_dir, const EncoderSettings& settings,
                          backend::Compute compute = backend::Compute::F32) {
    with_attention(settings.attention, []<class>() { return 0; });            // validate the names now
    pool::with_pooling(settings.pooling, []<class>() { return 0; });
    require(settings.max_length > 0, "max_length must be positive");
    auto tokenizer = std::make_shared<const text::Tokenizer>(load_tokenizer(model_dir));
    InferenceModel loaded = load_for_inference(model_dir, compute);
    if (tokenizer->vocab_size() > loaded.model->config().vocab_size)
      fail(tokenizer->path(), "has " + std::to_string(tokenizer->vocab_size()) + " pieces but the model's vocabulary is " +
                               std::to_string(loaded.model->config().vocab_size) + ": not this model's tokenizer");
    return TextEncoder(model_dir, std::move(loaded), std::move(tokenizer), settings);
  }

  int dimension() const { return model_->config().hidden_size; }
  const Model& model() const { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const EncoderSettings& settings() const { return settings_; }
  // The compute type of the matrix products (as loaded; bf16 packs the weights once, here). An encoder loaded in
  // bf16 has no float32 projections to switch to.
  void set_compute(backend::Compute compute) {
    if (compute == projections_.compute()) return;
    model_->require_projection_weights("switching the encoder to " + std::string(backend::compute_name(compute)));
    projections_ = Projections(model_->weights(), compute);
  }
  backend::Compute compute() const { return projections_.compute(); }
  std::string description() const {
    return "model " + dir_.string() + ", " + settings_.attention + ", " + settings_.pooling + (settings_.skip_bos ? " (BOS not pooled)" : "");
  }

  // [texts, dimension], not normalised. Texts are sorted by length so that a batch wastes little on padding.
  Matrix encode(const std::vector<std::string>& texts, int batch_size = 16, bool progress = false) const {
    return std::move(encode_poolings(texts, {settings_.pooling}, batch_size, progress).front());
  }

  // The texts under several poolings at the cost of one forward pass: one [texts, dimension] per name.
  std::vector<Matrix> encode_poolings(const std::vector<std::string>& texts, const std::vector<std::string>& poolings,
                                      int batch_size = 16, bool progress = false) const {
    require(batch_size > 0, "batch size must be positive");
    require(!poolings.empty(), "no pooling to encode with");
    for (const auto& name : poolings) pool::with_pooling(name, []<class>() { return 0; });   // validate the names now
    std::vector<std::vector<int32_t>> tokens(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      tokens[i] = tokenizer_->encode(texts[i], /*add_bos=*/true);
      if (tokens[i].size() > size_t(settings_.max_length)) tokens[i].resize(size_t(settings_.max_length));
      if (tokens[i].empty() || (settings_.skip_bos && tokens[i].size() < 2))
        fail("text " + std::to_string(i) + " is empty: nothing to encode");
    }
    std::vector<size_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tokens[a].size() < tokens[b].size(); });

    std::vector<Matrix> out(poolings.size(), Matrix(Eigen::Index(texts.size()), dimension()));
    Progress bar("encode", double(texts.size()), "texts");
    size_t done_tokens = 0;
    Activations workspace(model_->config(), 1, 1, ActivationMemory::OneLayer);   // grows to the largest batch
    for (size_t start = 0; start < order.size(); start += size_t(batch_size)) {
      const size_t end = std::min(order.size(), start + size_t(batch_size));
      const TokenBatch batch = make_batch(tokens, order, start, end);
      const std::vector<Matrix> pooled = embed_poolings(*model_, batch, settings_.attention, poolings, projections_, &workspace);
      for (size_t p = 0; p < poolings.size(); ++p)
        for (size_t i = start; i < end; ++i) out[p].row(Eigen::Index(order[i])) = pooled[p].row(Eigen::Index(i - start));
      for (size_t i = start; i < end; ++i) done_tokens += tokens[order[i]].size();
      if (progress) bar.update(double(end), std::to_string(done_tokens) + " tokens");
    }
    if (progress) bar.finish(std::to_string(size_t(double(done_tokens) / std::max(bar.seconds(), 1e-9))) + " tokens/s");
    return out;
  }

 private:
  TextEncoder(std::filesystem::path dir, InferenceModel model, std::shared_ptr<const text::Tokenizer> tokenizer,
              EncoderSettings settings)
      : dir_(std::move(dir)), model_(std::move(model.model)), tokenizer_(std::move(tokenizer)), settings_(std::move(settings)),
        projections_(std::move(model.projections)) {}

  TokenBatch make_batch(const std::vector<std::vector<int32_t>>& tokens, const std::vector<size_t>& order, size_t start,
                        size_t end) const {
    TokenBatch batch;
    batch.batch = int(end - start);
    batch.seq_len = int(tokens[order[end - 1]].size());          // sorted: the last is the longest
    batch.ids.assign(size_t(batch.tokens()), model_->config().pad_token_id);
    batch.mask.assign(size_t(batch.tokens()), 0);
    for (size_t i = start; i < end; ++i) {
      const auto& t = tokens[order[i]];
      const size_t row = (i - start) * size_t(batch.seq_len);
      std::copy(t.begin(), t.end(), batch.ids.begin() + long(row));
      std::fill_n(batch.mask.begin() + long(row), t.size(), 1);
    }
    if (settings_.skip_bos) {
      batch.pool_mask = batch.mask;
      for (int b = 0; b < batch.batch; ++b) batch.pool_mask[size_t(b) * size_t(batch.seq_len)] = 0;
    }
    return batch;
  }

  std::filesystem::path dir_;
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  EncoderSettings settings_;
  Projections projections_;
};

}  // namespace bg2vec
