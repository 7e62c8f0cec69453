// The forward pass agrees with Hugging Face transformers (float64 reference) on the mistral-dev
// fixture: hidden states after every layer, logits and pooled embeddings, for both attention policies.
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

using namespace bg2vec;

namespace {

constexpr double kTolerance = 1e-4;   // relative to the reference's largest value

const io::SafetensorsFile& reference() {
  static const io::SafetensorsFile file(test::fixture("hf/mistral-dev/reference.safetensors"));
  return file;
}

template <class Attn> std::string prefix();
template <> std::string prefix<Causal>() { return "causal_"; }
template <> std::string prefix<Bidirectional>() { return "bidir_"; }

}  // namespace

TEST_CASE_TEMPLATE("forward pass matches transformers", Attn, Causal, Bidirectional) {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const TokenBatch batch = io::read_token_batch(reference());
  const Decoder<Attn> decoder(model);
  Activations acts(model.config(), batch.batch, batch.seq_len, /*keep_all_layers=*/true);
  std::vector<Matrix> outputs;
  decoder.forward(batch, acts, &outputs);

  SUBCASE("hidden states after the embedding, every layer and the final norm") {
    // HF's hidden_states: [embedding, layer 1, ..., layer L-1, final norm(layer L)]
    const int L = model.config().num_layers;
    REQUIRE(outputs.size() == size_t(L + 2));
    for (int l = 0; l <= L; ++l) {
      CAPTURE(l);
      const Matrix& ours = l < L ? outputs[size_t(l)] : outputs.back();
      CHECK(test::relative_error(test::span_of(ours), reference().read_float32(prefix<Attn>() + "hidden." + std::to_string(l))) <
            kTolerance);
    }
  }
  SUBCASE("logits") {
    Matrix logits;
    decoder.logits(acts, logits);
    CHECK(test::relative_error(test::span_of(logits), reference().read_float32(prefix<Attn>() + "logits")) < kTolerance);
  }
  SUBCASE("mean pooling over non-pad tokens") {
    const Matrix pooled = pool::pool_forward<pool::Mean>(acts.hidden(), batch);
    CHECK(test::relative_error(test::span_of(pooled), reference().read_float32(prefix<Attn>() + "mean_pool")) < kTolerance);
  }
}

TEST_CASE("last-token pooling of the causal model matches transformers") {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const TokenBatch batch = io::read_token_batch(reference());
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Causal>(model).forward(batch, acts);
  const Matrix pooled = pool::pool_forward<pool::LastToken>(acts.hidden(), batch);
  CHECK(test::relative_error(test::span_of(pooled), reference().read_float32("causal_last_token_pool")) < kTolerance);
}

TEST_CASE("the default causal mask is the causal policy, and bidirectional attention differs from it") {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const TokenBatch batch = io::read_token_batch(reference());
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Causal> decoder(model);
  decoder.forward(batch, acts);
  Matrix logits;
  decoder.logits(acts, logits);
  CHECK(test::relative_error(test::span_of(logits), reference().read_float32("default_logits")) < kTolerance);
  CHECK(test::relative_error(test::span_of(logits), reference().read_float32("bidir_logits")) > 1e-2);
}

TEST_CASE("inference buffers (one layer reused) give the same result as keeping every layer") {
  const Model model = load_model(test::fixture("hf/mistral-dev"));
  const TokenBatch batch = io::read_token_batch(reference());
  Activations all(model.config(), batch.batch, batch.seq_len, true), reused(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Bidirectional>(model).forward(batch, all);
  Decoder<Bidirectional>(model).forward(batch, reused);
  CHECK(reused.bytes() < all.bytes());
  CHECK(test::relative_error(test::span_of(reused.hidden()), test::span_of(all.hidden())) == 0.0);
}
