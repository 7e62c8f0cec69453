// The training loop around the gradients: random initialisation, overfitting a small batch, saving
// and reloading models and adapters, merging LoRA, the MNTP collator, schedules, checkpoints and
// resume, and the errors for bad input.
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <bg2vec/train/data.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

#include <fstream>
#include <set>

namespace test_train_loop {

using namespace bg2vec;

namespace {

io::ModelConfig tiny_config(bool tied = false) {
  nlohmann::json j = {{"architectures", {"MistralForCausalLM"}}, {"vocab_size", 40}, {"hidden_size", 32},
                      {"intermediate_size", 48}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                      {"num_key_value_heads", 1}, {"rms_norm_eps", 1e-5}, {"rope_theta", 500.0},
                      {"tie_word_embeddings", tied}, {"initializer_range", 0.05}};
  return io::parse_config(j, "tiny/config.json");
}

TokenBatch sequences(int B, int T, int vocab, uint64_t seed) {
  TokenBatch b;
  b.batch = B;
  b.seq_len = T;
  for (int i = 0; i < B * T; ++i) b.ids.push_back(int32_t(3 + Dropout::mix(seed + uint64_t(i)) % uint64_t(vocab - 3)));
  b.mask.assign(b.ids.size(), 1);
  return b;
}

Matrix logits_of(const Model& model, const TokenBatch& batch, const LoraAdapter* lora = nullptr) {
  Activations acts(model.config(), batch.batch, batch.seq_len, false);
  const Decoder<Bidirectional> decoder(model, lora);
  decoder.forward(batch, acts);
  Matrix logits;
  decoder.logits(acts, logits);
  return logits;
}

}  // namespace

TEST_CASE("random initialisation is deterministic by seed, normal(0, initializer_range), norms 1") {
  Model a(tiny_config()), b(tiny_config()), c(tiny_config());
  train::initialise(a, 7);
  train::initialise(b, 7);
  train::initialise(c, 8);
  CHECK(a.parameters() == b.parameters());
  CHECK(a.parameters() != c.parameters());
  const auto q = a.parameter("model.layers.0.self_attn.q_proj.weight");
  double sum = 0, sq = 0;
  for (float x : q) { sum += x; sq += double(x) * x; }
  CHECK(std::abs(sum / double(q.size())) < 0.01);
  CHECK(std::sqrt(sq / double(q.size())) == doctest::Approx(0.05).epsilon(0.1));
  for (float x : a.parameter("model.norm.weight")) CHECK(x == 1.0f);
}

TEST_CASE_TEMPLATE("a repeated small batch is overfitted (the loss falls close to zero)", O, train::Ntp, train::Mntp) {
  for (bool tied : {false, true}) {
    CAPTURE(tied);
    Model model(tiny_config(tied));
    train::initialise(model, 1);
    const TokenBatch tokens = sequences(2, 12, 40, 5);
    const train::TrainBatch batch = std::is_same_v<O, train::Ntp>
                                        ? train::TrainBatch{tokens, {}, {}}
                                        : train::mask_tokens(tokens, {.mode = train::MaskingConfig::Mode::AllMask, .rate = 0.3f, .mask_id = 1}, 40, 3);
    train::Trainer<O> trainer(model, O{}, {.optimizer = "adamw", .adamw = {.weight_decay = 0.0f}});
    const double first = trainer.step(batch, 1e-2f);
    double loss = first;
    for (int s = 0; s < 150 && loss > 0.05; ++s) loss = trainer.step(batch, 1e-2f);
    CHECK(first > 3.0);
    CHECK(loss < 0.05);
  }
}

TEST_CASE("SimCSE with dropout: the loss falls, and the two views differ only through dropout") {
  Model model(tiny_config());
  train::initialise(model, 2);
  const train::TrainBatch batch{sequences(4, 8, 40, 9), {}, {}};
  train::Trainer<train::SimCse> trainer(model, {.temperature = 0.05f, .dropout = 0.3f}, {.adamw = {.weight_decay = 0.0f}});
  const double first = trainer.step(batch, 1e-3f);
  double loss = first;
  for (int s = 0; s < 30; ++s) loss = trainer.step(batch, 1e-3f);
  CHECK(first > 0.01);
  CHECK(loss < first);
  train::Trainer<train::SimCse> no_dropout(model, {.temperature = 0.05f, .dropout = 0.0f}, {});
  CHECK(no_dropout.evaluate(batch) < trainer.evaluate(batch));   // identical views are the easy case
}

TEST_CASE("a saved model reloads and gives identical outputs") {
  test::TempDir dir("train-save");
  Model model(tiny_config(true));
  train::initialise(model, 3);
  save_model(model, dir.path);
  const Model reloaded = load_model(dir.path);
  CHECK(reloaded.parameters() == model.parameters());
  const TokenBatch batch = sequences(2, 6, 40, 1);
  CHECK(test::relative_error(test::span_of(logits_of(reloaded, batch)), test::span_of(logits_of(model, batch))) == 0.0);
}

TEST_CASE("a saved adapter reloads identically, and merging it equals applying it") {
  test::TempDir dir("train-adapter");
  const Model base = load_model(test::fixture("hf/mistral-dev"));
  const LoraAdapter from_peft = peft::load_adapter(test::fixture("hf/mistral-dev/lora"), base.config());
  peft::save_adapter(from_peft, dir.path, "mistral-dev");
  const LoraAdapter ours = peft::load_adapter(dir.path, base.config());
  CHECK(ours.parameters() == from_peft.parameters());
  CHECK(ours.config().targets == from_peft.config().targets);
  // our saved names are PEFT's saved names
  const io::SafetensorsFile theirs(test::fixture("hf/mistral-dev/lora/adapter_model.safetensors")), mine(dir / "adapter_model.safetensors");
  for (const auto& [name, info] : theirs.tensors()) CHECK(mine.contains(name));

  const TokenBatch batch = sequences(2, 7, 384, 4);
  Model merged = base;
  merge_lora(merged.weights(), from_peft);
  const Matrix with_adapter = logits_of(base, batch, &from_peft), plain = logits_of(base, batch);
  CHECK(test::relative_error(test::span_of(logits_of(merged, batch)), test::span_of(with_adapter)) < 1e-5);
  CHECK(test::relative_error(test::span_of(plain), test::span_of(with_adapter)) > 1e-3);
}

TEST_CASE("LoRA training changes only the adapter") {
  Model model(tiny_config());
  train::initialise(model, 4);
  const std::vector<float> before = model.parameters();
  LoraAdapter lora(model.config(), {4, 8, 0.1f, {"q_proj", "v_proj", "down_proj"}});
  lora.initialise(5);
  const train::TrainBatch batch = train::mask_tokens(sequences(2, 10, 40, 2), {.rate = 0.5f, .mask_id = 1}, 40, 1);
  train::Trainer<train::Mntp> trainer(model, {}, {.lora_dropout = 0.1f}, &lora);
  const double first = trainer.step(batch, 1e-2f);
  double loss = first;
  for (int s = 0; s < 20; ++s) loss = trainer.step(batch, 1e-2f);
  CHECK(loss < first);
  CHECK(model.parameters() == before);
}

TEST_CASE("the MNTP collator: rate, modes, never position 0 nor special tokens, labels at masked positions") {
  TokenBatch tokens = sequences(8, 64, 40, 3);
  for (int b = 0; b < 8; ++b) tokens.ids[size_t(b) * 64] = 1;          // BOS
  tokens.ids[5] = 2;                                                    // an EOS inside row 0
  for (auto [mode, rate] : {std::pair{train::MaskingConfig::Mode::AllMask, 0.8f}, std::pair{train::MaskingConfig::Mode::Bert, 0.2f}}) {
    const train::MaskingConfig config{mode, rate, 39, {1, 2, 0}};
    const train::TrainBatch masked = train::mask_tokens(tokens, config, 40, 11);
    int chosen = 0, replaced = 0, candidates = 0;
    for (int b = 0; b < 8; ++b)
      for (int t = 0; t < 64; ++t) {
        const size_t i = size_t(b) * 64 + size_t(t);
        const bool special = tokens.ids[i] == 1 || tokens.ids[i] == 2;
        candidates += t > 0 && !special;
        if (masked.labels[i] == train::kIgnore) { CHECK(masked.tokens.ids[i] == tokens.ids[i]); continue; }
        CHECK(t > 0);
        CHECK(!special);
        CHECK(masked.labels[i] == tokens.ids[i]);
        ++chosen;
        replaced += masked.tokens.ids[i] == 39;
      }
    CHECK(double(chosen) / candidates == doctest::Approx(rate).epsilon(0.2));
    if (mode == train::MaskingConfig::Mode::AllMask) CHECK(replaced == chosen);
    else CHECK(double(replaced) / chosen == doctest::Approx(0.8).epsilon(0.15));
  }
  CHECK_THROWS_WITH(train::mask_tokens(tokens, {.mask_id = 40}, 40, 1), doctest::Contains("outside the vocabulary"));
}

TEST_CASE("schedules: warm-up, constant, linear decay") {
  const train::Schedule constant{train::Schedule::Kind::Constant, 1.0f, 2, 10}, linear{train::Schedule::Kind::Linear, 1.0f, 2, 10};
  CHECK(constant.at(0) == 0.5f);
  CHECK(constant.at(1) == 1.0f);
  CHECK(constant.at(9) == 1.0f);
  CHECK(linear.at(2) == 1.0f);
  CHECK(linear.at(6) == doctest::Approx(0.5));
  CHECK(linear.at(9) == doctest::Approx(0.125));
  std::vector<float> g = {3, 4};
  CHECK(train::clip_grad_norm(g, 1.0) == doctest::Approx(5.0));
  CHECK(std::hypot(g[0], g[1]) == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("gradient accumulation over two halves equals the gradient of the whole batch") {
  Model model(tiny_config());
  train::initialise(model, 6);
  const TokenBatch whole = sequences(4, 6, 40, 8);
  auto half = [&](int first) {
    TokenBatch h = whole;
    h.batch = 2;
    h.ids.assign(whole.ids.begin() + first * 6, whole.ids.begin() + (first + 2) * 6);
    h.mask.assign(h.ids.size(), 1);
    return train::TrainBatch{h, {}, {}};
  };
  train::Trainer<train::Ntp> a(model, {}, {.optimizer = "sgd"}), b(model, {}, {.optimizer = "sgd"});
  const std::vector<train::TrainBatch> halves = {half(0), half(2)};
  const double loss_whole = a.gradients(std::vector<train::TrainBatch>{{whole, {}, {}}});
  const double loss_halves = b.gradients(halves);
  CHECK(loss_halves == doctest::Approx(loss_whole).epsilon(1e-5));   // equal token counts per half
  CHECK(test::relative_error(b.gradient(), a.gradient()) < 1e-5);
}

TEST_CASE("a run resumed from a checkpoint continues exactly (f32 and bf16 products); a damaged checkpoint is refused") {
  test::TempDir dir("train-ckpt");
  const train::TrainBatch batch{sequences(2, 8, 40, 3), {}, {}};
  auto fresh = [] { Model m(tiny_config()); train::initialise(m, 9); return m; };
  std::vector<backend::Compute> computes{backend::Compute::F32};
  if (backend::cpu::has_avx512_bf16()) computes.push_back(backend::Compute::Bf16);
  for (const backend::Compute compute : computes) {
    CAPTURE(backend::compute_name(compute));
    const train::TrainerOptions options{.seed = 5, .compute = compute};
    Model straight = fresh();
    train::Trainer<train::Ntp> t1(straight, {}, options);
    for (int s = 0; s < 4; ++s) t1.step(batch, 1e-2f);

    Model first_half = fresh();
    train::Trainer<train::Ntp> t2(first_half, {}, options);
    for (int s = 0; s < 2; ++s) t2.step(batch, 1e-2f);
    train::save_checkpoint(dir.path, t2.trainable(), t2.adamw(), {2, 5, "ntp"});
    CHECK(train::find_checkpoint(dir.path) == dir / "checkpoint");

    // bf16: the resumed trainer's bf16 copies of the base were made from the fresh weights, before the restore
    Model resumed = fresh();
    train::Trainer<train::Ntp> t3(resumed, {}, options);
    const auto state = train::load_checkpoint(dir / "checkpoint", t3.trainable(), t3.adamw(), "ntp");
    CHECK(state.step == 2);
    t3.resume_at(state.step);
    for (int s = 0; s < 2; ++s) t3.step(batch, 1e-2f);
    CHECK(resumed.parameters() == straight.parameters());
  }

  // another objective, another model size, a flipped byte: refused, nothing written
  Model other = fresh();
  const std::vector<float> untouched = other.parameters();
  train::Trainer<train::Ntp> t4(other, {}, {});
  CHECK_THROWS_WITH(train::load_checkpoint(dir / "checkpoint", t4.trainable(), t4.adamw(), "mntp"), doctest::Contains("objective ntp"));
  std::vector<float> small(10);
  CHECK_THROWS_WITH(train::load_checkpoint(dir / "checkpoint", small, nullptr, "ntp"), doctest::Contains("trainable parameters"));
  {
    std::fstream f(dir / "checkpoint/state.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  CHECK_THROWS_WITH(train::load_checkpoint(dir / "checkpoint", t4.trainable(), t4.adamw(), "ntp"),
                    doctest::Contains("state.safetensors: damaged checkpoint: checksum mismatch"));
  std::filesystem::resize_file(dir / "checkpoint/state.safetensors", 100);
  CHECK_THROWS_WITH(train::load_checkpoint(dir / "checkpoint", t4.trainable(), t4.adamw(), "ntp"), doctest::Contains("state.safetensors"));
  CHECK(other.parameters() == untouched);
}

TEST_CASE("bad input: labels out of range, views that disagree, unknown LoRA targets, adapters for another model") {
  train::TrainBatch batch{sequences(2, 5, 40, 1), std::vector<int32_t>(10, train::kIgnore), {}};
  batch.labels[3] = 40;
  CHECK_THROWS_WITH(train::check_train_batch(batch, 40, "b.safetensors"),
                    doctest::Contains("b.safetensors: label 40 at [0, 3] is out of range"));
  batch.labels.resize(7);
  CHECK_THROWS_WITH(train::check_train_batch(batch, 40, "b.safetensors"), doctest::Contains("different shape"));
  train::TrainBatch views{sequences(2, 5, 40, 1), {}, sequences(3, 5, 40, 2)};
  CHECK_THROWS_WITH(train::check_train_batch(views, 40, "v.safetensors"), doctest::Contains("positive view has 3 rows"));

  CHECK_THROWS_WITH(LoraAdapter(tiny_config(), {4, 8, 0, {"q_proj", "qkv_proj"}}), doctest::Contains("'qkv_proj' does not exist"));
  // the mistral-dev adapter on a model of another shape
  CHECK_THROWS_WITH(peft::load_adapter(test::fixture("hf/mistral-dev/lora"), tiny_config()),
                    doctest::Contains("adapter_model.safetensors: tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [4, 64], this model needs [4, 32]"));
}

TEST_CASE("text batches grouped by length: the same texts per group of batches, with less padding") {
  test::TempDir dir("text-batches");
  {
    std::ofstream out(dir / "texts.txt");
    for (int i = 0; i < 400; ++i) {   // lengths 1..40 words, in a scrambled order
      std::string line;
      for (int w = 0; w <= (i * 37) % 40; ++w) line += "дума" + std::to_string(w) + " ";
      out << line << "\n";
    }
  }
  auto tokenizer = std::make_shared<const text::Tokenizer>(test::fixture("gguf/tokenizers/mistral-dev.model"));
  train::TextBatches plain(dir / "texts.txt", tokenizer, 8, 512, 3), grouped(dir / "texts.txt", tokenizer, 8, 512, 3, true);
  const int group = train::TextBatches::kGroup;
  size_t plain_slots = 0, grouped_slots = 0, real = 0;
  for (uint64_t g = 0; g < 4; ++g) {   // 4 x 16 x 8 = 512 texts: more than an epoch, so groups cross one
    std::multiset<std::vector<int32_t>> a, b;
    for (uint64_t i = g * group; i < (g + 1) * group; ++i) {
      const TokenBatch p = plain.batch(i), q = grouped.batch(i);
      CHECK(q.batch == 8);
      plain_slots += p.ids.size();
      grouped_slots += q.ids.size();
      for (int r = 0; r < 8; ++r) {
        std::vector<int32_t> pr, qr;
        for (int t = 0; t < p.seq_len; ++t) if (p.real(r, t)) pr.push_back(p.ids[size_t(r * p.seq_len + t)]);
        for (int t = 0; t < q.seq_len; ++t) if (q.real(r, t)) qr.push_back(q.ids[size_t(r * q.seq_len + t)]);
        real += pr.size();
        a.insert(pr);
        b.insert(qr);
      }
    }
    CHECK(a == b);
  }
  CHECK(grouped.batch(5).ids == grouped.batch(5).ids);   // a pure function of (seed, index)
  CHECK(double(grouped_slots - real) < 0.25 * double(plain_slots - real));
}

}  // namespace test_train_loop
