// The forward pass agrees with Hugging Face transformers (float64 reference) on the mistral-dev,
// gemma2-dev and gemma3-dev fixtures: hidden states after every layer, logits and pooled embeddings, for both
// attention policies, and transformers' own (default) mask, sliding window included.
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

namespace test_forward_parity {

using namespace bg2vec;

namespace {

constexpr double kTolerance = 1e-4;   // relative to the reference's largest value

using test::On;
using test::CausalWithoutWindow;
using test::Gemma2Dev;
using test::Gemma3Dev;
using test::MistralDev;

std::filesystem::path model_dir(const char* fixture) { return test::fixture(std::string("hf/") + fixture); }

// The first `rows` rows of a [B, ...] tensor.
std::span<const float> first_rows(std::span<const float> t, int batch, int rows) { return t.first(t.size() / size_t(batch) * size_t(rows)); }

// The entries of a [B, T, ...] tensor at the real (non-pad) positions of `batch`.
std::vector<float> real_positions(std::span<const float> t, const TokenBatch& batch) {
  const size_t per_position = t.size() / (size_t(batch.batch) * size_t(batch.seq_len));
  std::vector<float> out;
  for (int b = 0; b < batch.batch; ++b)
    for (int p = 0; p < batch.seq_len; ++p)
      if (batch.real(b, p)) {
        const auto row = t.subspan((size_t(b) * size_t(batch.seq_len) + size_t(p)) * per_position, per_position);
        out.insert(out.end(), row.begin(), row.end());
      }
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("forward pass matches transformers", C, On<MistralDev, CausalWithoutWindow>, On<MistralDev, Bidirectional>,
                   On<Gemma2Dev, CausalWithoutWindow>, On<Gemma2Dev, Bidirectional>, On<Gemma3Dev, CausalWithoutWindow>,
                   On<Gemma3Dev, Bidirectional>) {
  const std::string name = C::fixture::name;
  const auto& reference = test::hf_reference(name);
  const Model model = load_model(model_dir(name.c_str()));
  const TokenBatch batch = io::read_token_batch(reference);
  const Decoder<typename C::attention> decoder(model);
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
      const double err = test::relative_error(test::span_of(ours), reference.read_float32(C::prefix() + "hidden." + std::to_string(l)));
      CHECK(err < kTolerance);
      MESSAGE(name << " " << C::prefix() << "hidden." << l << ": relative error " << err);
    }
  }
  SUBCASE("logits") {
    Matrix logits;
    decoder.logits(acts, logits);
    const double err = test::relative_error(test::span_of(logits), reference.read_float32(C::prefix() + "logits"));
    CHECK(err < kTolerance);
    MESSAGE(name << " " << C::prefix() << "logits: relative error " << err);
  }
  SUBCASE("mean pooling over non-pad tokens") {
    const Matrix pooled = pool::pool_forward<pool::Mean>(acts.hidden(), batch);
    const double err = test::relative_error(test::span_of(pooled), reference.read_float32(C::prefix() + "mean_pool"));
    CHECK(err < kTolerance);
    MESSAGE(name << " " << C::prefix() << "mean_pool: relative error " << err);
  }
}

TEST_CASE_TEMPLATE("last-token pooling of the causal model matches transformers", F, MistralDev, Gemma2Dev, Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(model_dir(F::name));
  const TokenBatch batch = io::read_token_batch(reference);
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  Decoder<CausalWithoutWindow>(model).forward(batch, acts);
  const Matrix pooled = pool::pool_forward<pool::LastToken>(acts.hidden(), batch);
  const double err = test::relative_error(test::span_of(pooled), reference.read_float32("causal_last_token_pool"));
  CHECK(err < kTolerance);
  MESSAGE(std::string(F::name) << " causal_last_token_pool: relative error " << err);
}

// transformers' own mask path is `Causal`: for Gemma-2 and -3 it applies the sliding window on the
// sliding layers. Row 2 (5 real tokens) has pad queries that see no key inside the window: in gemma2-dev
// they come out NaN (transformers' fully-masked rows in float64), in gemma3-dev (sdpa) as whatever sdpa
// gives such rows; we give such queries zero attention. So there only rows 0-1 are compared whole, and
// the real positions of every row besides.
TEST_CASE_TEMPLATE("the default causal mask is the causal policy, and bidirectional attention differs from it", F, MistralDev,
                   Gemma2Dev, Gemma3Dev) {
  const auto& reference = test::hf_reference(F::name);
  const Model model = load_model(model_dir(F::name));
  const TokenBatch batch = io::read_token_batch(reference);
  const int rows = std::is_same_v<F, MistralDev> ? batch.batch : 2;
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Causal> decoder(model);
  decoder.forward(batch, acts);
  Matrix logits;
  decoder.logits(acts, logits);
  const auto ours = first_rows(test::span_of(logits), batch.batch, rows);
  const auto expected = reference.read_float32("default_logits");
  const double err = test::relative_error(ours, first_rows(expected, batch.batch, rows));
  CHECK(err < kTolerance);
  MESSAGE(std::string(F::name) << " default_logits (rows 0-" << rows - 1 << "): relative error " << err);
  const double real_err = test::relative_error(real_positions(test::span_of(logits), batch), real_positions(expected, batch));
  CHECK(real_err < kTolerance);
  MESSAGE(std::string(F::name) << " default_logits (real positions of every row): relative error " << real_err);
  CHECK(test::relative_error(ours, first_rows(reference.read_float32("bidir_logits"), batch.batch, rows)) > 1e-2);
}

TEST_CASE("Gemma-2's sliding window changes the causal result, and only on the sliding layers") {
  const Model model = load_model(model_dir(Gemma2Dev::name));
  const TokenBatch batch = io::read_token_batch(test::hf_reference(Gemma2Dev::name));
  REQUIRE(model.config().sliding_window == 8);
  REQUIRE(batch.seq_len > 8);                          // row 0 is longer than the window
  CHECK(model.config().window_of_layer(0) == 8);       // layer_types: sliding, full
  CHECK(model.config().window_of_layer(1) == std::nullopt);
  Activations windowed(model.config(), batch.batch, batch.seq_len, false), full(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Causal>(model).forward(batch, windowed);
  Decoder<CausalWithoutWindow>(model).forward(batch, full);
  CHECK(test::relative_error(test::span_of(windowed.hidden()), test::span_of(full.hidden())) > 1e-3);
}

// Gemma-3: the window on its two sliding layers only, and a rotary base per layer type (1e4 sliding, 1e6
// full): the result depends on both bases (one base for every layer moves it far from transformers').
TEST_CASE("Gemma-3's sliding window and local rotary base apply to the sliding layers only") {
  const Model model = load_model(model_dir(Gemma3Dev::name));
  const auto& reference = test::hf_reference(Gemma3Dev::name);
  const TokenBatch batch = io::read_token_batch(reference);
  const auto& c = model.config();
  REQUIRE(c.sliding_window == 6);
  REQUIRE(batch.seq_len > 6);
  CHECK(c.window_of_layer(0) == 6);                    // layer_types: sliding, sliding, full
  CHECK(c.window_of_layer(1) == 6);
  CHECK(c.window_of_layer(2) == std::nullopt);
  CHECK(c.rope_theta_of_layer(0) == 1e4);
  CHECK(c.rope_theta_of_layer(1) == 1e4);
  CHECK(c.rope_theta_of_layer(2) == 1e6);
  Activations windowed(c, batch.batch, batch.seq_len, false), full(c, batch.batch, batch.seq_len, false);
  Decoder<Causal>(model).forward(batch, windowed);
  Decoder<CausalWithoutWindow>(model).forward(batch, full);
  CHECK(test::relative_error(test::span_of(windowed.hidden()), test::span_of(full.hidden())) > 1e-3);

  for (const double base : {1e6, 1e4}) {               // every layer on the full layers' base, or on the sliding ones'
    CAPTURE(base);
    io::ModelConfig one_base = c;
    one_base.rope_theta = base;
    one_base.rope_local_theta.reset();
    Model changed(one_base);
    changed.parameters() = model.parameters();
    Activations acts(one_base, batch.batch, batch.seq_len, false);
    Decoder<Bidirectional>(changed).forward(batch, acts);
    CHECK(test::relative_error(test::span_of(acts.hidden()), reference.read_float32("bidir_hidden.3")) > 1e-3);
  }
}

TEST_CASE_TEMPLATE("inference buffers (one layer reused) give the same result as keeping every layer", F, MistralDev, Gemma2Dev,
                   Gemma3Dev) {
  const Model model = load_model(model_dir(F::name));
  const TokenBatch batch = io::read_token_batch(test::hf_reference(F::name));
  Activations all(model.config(), batch.batch, batch.seq_len, true), reused(model.config(), batch.batch, batch.seq_len, false);
  Decoder<Bidirectional>(model).forward(batch, all);
  Decoder<Bidirectional>(model).forward(batch, reused);
  CHECK(reused.bytes() < all.bytes());
  CHECK(test::relative_error(test::span_of(reused.hidden()), test::span_of(all.hidden())) == 0.0);
}

}  // namespace test_forward_parity
