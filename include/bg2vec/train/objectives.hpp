#pragma once
// Training objectives as policies of the trainer. Each says which attention it trains, checks at compile
// time that the attention it is given makes sense for it, and computes its loss and (optionally) the
// gradients of every trainable tensor:
//   Ntp      causal next-token prediction: logits at i-1 predict token i, mean over real tokens;
//   Mntp     masked next-token prediction (LLM2Vec): bidirectional; logits at i-1 predict the label at i
//            (the original token where the collator masked it), mean over masked positions;
//   SimCse   unsupervised SimCSE: two dropout views of each text, pooled, InfoNCE over cosines.
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/info_nce.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/train/batch.hpp>

#include <memory>
#include <string_view>

namespace bg2vec::train {

// Where gradients go: the base model's (null = frozen) and the adapter's (null = none).
struct GradientTarget {
  DecoderTensors* base = nullptr;
  LoraTensors* lora = nullptr;
  bool any() const { return base || lora; }
};

// What a step needs besides the batch: dropout seeds, the gradient scale (1/accumulation steps), and
// the buffers reused from step to step.
struct StepContext {
  GradientTarget grads;
  float scale = 1.0f;                  // multiplies the loss's gradient (gradient accumulation)
  uint64_t seed = 0;                   // dropout masks of this step
  float lora_dropout = 0.0f;
  ActivationMemory memory = ActivationMemory::AllLayers;
  std::unique_ptr<Activations> acts, acts_positive;
  Matrix d_hidden, d_hidden_positive;

  Activations& activations(std::unique_ptr<Activations>& slot, const io::ModelConfig& c, const TokenBatch& b) {
    const ActivationMemory m = grads.any() ? memory : ActivationMemory::OneLayer;
    if (!slot || slot->memory() != m) slot = std::make_unique<Activations>(c, b.batch, b.seq_len, m);
    else if (slot->batch() != b.batch || slot->seq_len() != b.seq_len) slot->reshape(c, b.batch, b.seq_len);
    return *slot;
  }
};

namespace detail {

// Mean cross-entropy of predicting label[b, t] from the output at (b, t-1), through the lm_head.
template <AttentionPolicy A>
double token_prediction(const Decoder<A>& decoder, const TokenBatch& tokens, const std::vector<int32_t>& labels,
                        StepContext& ctx, const char* what) {
  const auto& c = decoder.model().config();
  Activations& acts = ctx.activations(ctx.acts, c, tokens);
  acts.attention_dropout = {};
  acts.lora_dropout = {ctx.lora_dropout, ctx.seed};
  decoder.forward(tokens, acts);
  std::vector<layers::Prediction> predictions;
  for (int b = 0; b < tokens.batch; ++b)
    for (int t = 1; t < tokens.seq_len; ++t) {
      const int32_t y = labels[size_t(b) * tokens.seq_len + t];
      if (y != kIgnore) predictions.push_back({Eigen::Index(b) * tokens.seq_len + t - 1, y});
    }
  if (predictions.empty()) fail(std::string(what) + ": the batch has no position to predict");
  const float mean = 1.0f / float(predictions.size());
  const auto& lm_head = decoder.model().weights().lm_head;
  if (!ctx.grads.any())
    return layers::lm_head_cross_entropy(acts.hidden(), lm_head, predictions, 0, nullptr, nullptr, decoder.final_softcap(),
                                         layers::kCrossEntropyChunk, decoder.projections()) * mean;
  ctx.d_hidden.setZero(acts.hidden().rows(), acts.hidden().cols());
  Eigen::Ref<Matrix> dh(ctx.d_hidden);
  MatrixView* dw = ctx.grads.base ? &ctx.grads.base->lm_head : nullptr;
  const double loss = layers::lm_head_cross_entropy(acts.hidden(), lm_head, predictions, ctx.scale * mean, &dh, dw,
                                                    decoder.final_softcap(), layers::kCrossEntropyChunk,
                                                    decoder.projections()) * mean;
  decoder.backward(tokens, acts, ctx.d_hidden, ctx.grads.base, ctx.grads.lora);
  return loss;
}

}  // namespace detail

// Causal language modelling, for pretraining a decoder (pads ignored).
struct Ntp {
  static constexpr std::string_view name = "ntp";
  using attention = Causal;

  template <AttentionPolicy A>
  double operator()(const Decoder<A>& decoder, const TrainBatch& batch, StepContext& ctx) const {
    static_assert(!sees_later_keys<A>(), "Ntp needs an attention that hides later tokens: if position i-1 sees token i, "
                                  "the label is part of the input and the loss teaches nothing (use Causal)");
    const TokenBatch& t = batch.tokens;
    std::vector<int32_t> labels(t.ids.begin(), t.ids.end());
    for (size_t i = 0; i < labels.size(); ++i) if (!t.mask[i]) labels[i] = kIgnore;
    return detail::token_prediction(decoder, t, labels, ctx, "ntp");
  }
};

// Masked next-token prediction: the batch's ids are already masked and its labels say what to predict.
struct Mntp {
  static constexpr std::string_view name = "mntp";
  using attention = Bidirectional;

  template <AttentionPolicy A>
  double operator()(const Decoder<A>& decoder, const TrainBatch& batch, StepContext& ctx) const {
    static_assert(sees_later_keys<A>(), "Mntp trains bidirectional attention (LLM2Vec): under causal attention a "
                                 "masked position is just a corrupted next-token input; use Ntp for causal training");
    if (!batch.has_labels()) fail("mntp: the batch has no 'labels'");
    return detail::token_prediction(decoder, batch.tokens, batch.labels, ctx, "mntp");
  }
};

// SimCSE's contrastive loss over the two views' pooled embeddings: a against b, one direction, as SimCSE
// and LLM2Vec train. A loss is a type with loss(a, b, temperature, da, db) that returns the loss and, where
// da and db are given, adds its gradients into them (examples/policies/symmetric_simcse.hpp: both directions).
struct InfoNce {
  static double loss(const Matrix& a, const Matrix& b, float temperature, Matrix* da, Matrix* db) {
    return layers::info_nce(a, b, temperature, da, db);
  }
};

template <class L>
concept ContrastiveLoss = requires(const Matrix& a, Matrix* da) {
  { L::loss(a, a, 0.05f, da, da) } -> std::convertible_to<double>;
};

// Unsupervised SimCSE: each text against its own second view (another dropout mask, or the batch's
// `positive` ids when given), in-batch negatives, cross-entropy over cos / temperature, target j = i.
template <pool::Pooling Pool, ContrastiveLoss Loss = InfoNce>
struct SimCseWith {
  static constexpr std::string_view name = "simcse";
  using attention = Bidirectional;
  using pooling = Pool;
  float temperature = 0.05f;
  float dropout = 0.3f;                // attention-probability dropout that makes the two views differ

  template <AttentionPolicy A>
  double operator()(const Decoder<A>& decoder, const TrainBatch& batch, StepContext& ctx) const {
    static_assert(sees_later_keys<A>() || !std::is_same_v<Pool, pool::Bos>,
                  "SimCse with Bos pooling under causal attention: the first token sees only itself, so every "
                  "embedding would be the same vector; pool with mean or last instead");
    const auto& c = decoder.model().config();
    const TokenBatch& ta = batch.tokens;
    const TokenBatch& tb = batch.has_positive() ? batch.positive : batch.tokens;
    Activations& a = ctx.activations(ctx.acts, c, ta);
    Activations& b = ctx.activations(ctx.acts_positive, c, tb);
    // Different seeds: the two views draw different dropout masks.
    a.attention_dropout = {dropout, ctx.seed * 2 + 1};
    b.attention_dropout = {dropout, ctx.seed * 2 + 2};
    a.lora_dropout = {ctx.lora_dropout, ctx.seed * 2 + 1};
    b.lora_dropout = {ctx.lora_dropout, ctx.seed * 2 + 2};
    decoder.forward(ta, a);
    decoder.forward(tb, b);
    const Matrix pa = pool::pool_forward<Pool>(a.hidden(), ta), pb = pool::pool_forward<Pool>(b.hidden(), tb);
    if (!ctx.grads.any()) return Loss::loss(pa, pb, temperature, nullptr, nullptr);
    Matrix da = Matrix::Zero(pa.rows(), pa.cols()), db = Matrix::Zero(pb.rows(), pb.cols());
    const double loss = Loss::loss(pa, pb, temperature, &da, &db);
    da *= ctx.scale;
    db *= ctx.scale;
    ctx.d_hidden.setZero(a.hidden().rows(), a.hidden().cols());
    ctx.d_hidden_positive.setZero(b.hidden().rows(), b.hidden().cols());
    pool::pool_backward<Pool>(da, ta, ctx.d_hidden);
    pool::pool_backward<Pool>(db, tb, ctx.d_hidden_positive);
    decoder.backward(tb, b, ctx.d_hidden_positive, ctx.grads.base, ctx.grads.lora);
    decoder.backward(ta, a, ctx.d_hidden, ctx.grads.base, ctx.grads.lora);
    return loss;
  }
};
using SimCse = SimCseWith<pool::Mean>;

// The parts of the concept, named so that a compiler's "constraints not satisfied" note says which is missing.
namespace objective {

template <class O>
concept has_name = requires { { O::name } -> std::convertible_to<std::string_view>; };

// The attention it trains (the trainer's default; another may be given, which the objective then checks).
template <class O>
concept names_its_attention = requires { typename O::attention; } && AttentionPolicy<typename O::attention>;

// A call on a decoder of that attention: the loss of one batch, and its gradients into ctx.grads.
template <class O>
concept computes_a_loss = requires(const O& o, const Decoder<typename O::attention>& decoder, const TrainBatch& batch,
                                   StepContext& ctx) {
  { o(decoder, batch, ctx) } -> std::convertible_to<double>;
};

}  // namespace objective

template <class O>
concept Objective = objective::has_name<O> && objective::names_its_attention<O> && objective::computes_a_loss<O>;

static_assert(Objective<Ntp> && Objective<Mntp> && Objective<SimCse>);

// Calls f.template operator()<Objective>() for an objective named at run time.
template <class F>
decltype(auto) with_objective(std::string_view name, F&& f) {
  if (name == Ntp::name) return f.template operator()<Ntp>();
  if (name == Mntp::name) return f.template operator()<Mntp>();
  if (name == SimCse::name) return f.template operator()<SimCse>();
  throw Error("unknown objective '" + std::string(name) + "' (expected ntp, mntp or simcse)");
}

}  // namespace bg2vec::train
