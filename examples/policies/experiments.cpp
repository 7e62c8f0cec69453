// The experiment runner: every combination listed in `Experiments` (an attention policy and an objective,
// which names its pooling) trains a fresh LoRA adapter of the same model on the same sentences with the same
// seed (unsupervised SimCSE), then encodes the same retrieval set (BEIR layout) with that attention and
// pooling; one table of nDCG@10 and tokens/s. A new experiment is one more line in the type list.
//
//   experiments --model M --sentences FILE --beir DIR [--steps N --batch N --max-length N --passage-length N]
//
// Queries are encoded as "instruction + query" with the instruction left out of pooling (LLM2Vec's
// setting) in every row, so that InstructionPrefix differs from Bidirectional only in its mask; passages
// and training sentences carry no instruction.
#include <bg2vec/bg2vec.hpp>
#include <bg2vec/train/data.hpp>

#include "instruction_prefix.hpp"
#include "last_k.hpp"
#include "sliding_window.hpp"
#include "symmetric_simcse.hpp"
#include "tail_decay.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <tuple>

using namespace bg2vec;
using train::SimCseWith;

template <AttentionPolicy Attn, train::Objective O>
struct Experiment {
  using attention = Attn;
  using objective = O;
};

// The combinations to compare: one place, one line each.
using Experiments = std::tuple<
    Experiment<Bidirectional, SimCseWith<pool::Mean>>,                      // LLM2Vec's encoder
    Experiment<Causal, SimCseWith<pool::Mean>>,                             // the decoder's own mask
    Experiment<Causal, SimCseWith<policies::TailDecay<8>>>,                 // causal, pooled from the end
    Experiment<policies::SlidingWindow<16>, SimCseWith<pool::Mean>>,        // local bidirectional
    Experiment<policies::InstructionPrefix, SimCseWith<pool::Mean>>,        // instructions see only themselves
    Experiment<Bidirectional, SimCseWith<policies::LastK<4>>>,              // the last four tokens
    Experiment<Bidirectional, policies::SymmetricSimCse<pool::Mean>>>;      // SimCSE both ways

struct Settings {
  std::string model, sentences, beir;
  int steps = 20, batch = 16, max_length = 64, passage_length = 192, encode_batch = 16, lora_rank = 16;
  float lr = 3e-4f, dropout = 0.1f, temperature = 0.05f;
  uint64_t seed = 1;
  std::string instruction = "Дадено е заглавие; намери раздела, за който се отнася: ";
  backend::Compute compute = backend::default_compute();
};

struct Row {
  std::string attention, pooling, objective;
  double loss_first = 0, loss_last = 0, train_tokens_per_s = 0, encode_tokens_per_s = 0, ndcg = 0, recall10 = 0;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Texts (each optionally behind the instruction, which is not pooled) through the decoder, pooled: [n, H].
template <AttentionPolicy Attn, pool::Pooling Pool>
Matrix encode(const Decoder<Attn>& decoder, const text::Tokenizer& tokenizer, const std::vector<std::string>& texts,
              const std::string& instruction, int max_length, int batch_size, size_t& tokens) {
  const std::vector<int32_t> prefix = instruction.empty() ? std::vector<int32_t>{} : tokenizer.encode(instruction, true);
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ids[i] = prefix;
    const auto text = tokenizer.encode(texts[i], /*add_bos=*/prefix.empty());
    ids[i].insert(ids[i].end(), text.begin(), text.end());
    ids[i].resize(std::min(ids[i].size(), prefix.size() + size_t(max_length)));
  }
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
  Matrix out(Eigen::Index(texts.size()), decoder.model().config().hidden_size);
  for (size_t start = 0; start < order.size(); start += size_t(batch_size)) {
    const size_t end = std::min(order.size(), start + size_t(batch_size));
    TokenBatch batch;
    batch.batch = int(end - start);
    batch.seq_len = int(ids[order[end - 1]].size());
    batch.ids.assign(size_t(batch.tokens()), decoder.model().config().pad_token_id);
    batch.mask.assign(size_t(batch.tokens()), 0);
    batch.pool_mask.assign(size_t(batch.tokens()), 0);
    for (size_t i = start; i < end; ++i) {
      const auto& row = ids[order[i]];
      const size_t at = (i - start) * size_t(batch.seq_len);
      std::copy(row.begin(), row.end(), batch.ids.begin() + long(at));
      std::fill_n(batch.mask.begin() + long(at), row.size(), 1);
      std::fill(batch.pool_mask.begin() + long(at + prefix.size()), batch.pool_mask.begin() + long(at + row.size()), 1);
      tokens += row.size();
    }
    Activations acts(decoder.model().config(), batch.batch, batch.seq_len, /*keep_all_layers=*/false);
    decoder.forward(batch, acts);
    const Matrix pooled = pool::pool_forward<Pool>(acts.hidden(), batch);
    for (size_t i = start; i < end; ++i) out.row(Eigen::Index(order[i])) = pooled.row(Eigen::Index(i - start));
  }
  return out;
}

template <class E>
Row run(const Settings& s, Model& model, const std::shared_ptr<const text::Tokenizer>& tokenizer, const eval::BeirDataset& data) {
  using Attn = typename E::attention;
  using O = typename E::objective;
  using Pool = typename O::pooling;
  Row row{std::string(Attn::name), std::string(Pool::name), std::string(O::name)};
  LoraAdapter lora(model.config(), {s.lora_rank, 2.0f * float(s.lora_rank), 0.05f});
  lora.initialise(s.seed);
  O objective;
  objective.temperature = s.temperature;
  objective.dropout = s.dropout;
  train::Trainer<O, Attn> trainer(model, objective, {.lora_dropout = 0.05f, .seed = s.seed, .compute = s.compute}, &lora);
  train::TextBatches sentences(s.sentences, tokenizer, s.batch, s.max_length, s.seed, /*group_by_length=*/true);
  size_t tokens = 0;
  const auto t0 = Clock::now();
  for (int step = 0; step < s.steps; ++step) {
    const train::TrainBatch batch{sentences.batch(uint64_t(step)), {}, {}};
    for (uint8_t m : batch.tokens.mask) tokens += 2 * m;              // two views
    const double loss = trainer.step(batch, s.lr * (1.0f - float(step) / float(s.steps)));   // linear decay
    if (step == 0) row.loss_first = loss;
    row.loss_last = loss;
  }
  row.train_tokens_per_s = double(tokens) / seconds_since(t0);

  const Decoder<Attn>& decoder = trainer.decoder();           // with the adapter, dropout off when not training
  size_t encoded = 0;
  const auto t1 = Clock::now();
  const Matrix corpus = encode<Attn, Pool>(decoder, *tokenizer, eval::passage_texts(data.corpus), "", s.passage_length,
                                           s.encode_batch, encoded);
  const Matrix queries = encode<Attn, Pool>(decoder, *tokenizer, eval::query_texts(data.queries), s.instruction,
                                            s.passage_length, s.encode_batch, encoded);
  row.encode_tokens_per_s = double(encoded) / seconds_since(t1);
  const eval::Metrics m = eval::evaluate(eval::dense_run(data, corpus, queries).run, data.qrels).mean;
  row.ndcg = m.ndcg_10;
  row.recall10 = m.recall_10;
  return row;
}

int main(int argc, char** argv) try {
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") s.model = value;
    else if (flag == "--sentences") s.sentences = value;
    else if (flag == "--beir") s.beir = value;
    else if (flag == "--steps") s.steps = std::stoi(value);
    else if (flag == "--batch") s.batch = std::stoi(value);
    else if (flag == "--max-length") s.max_length = std::stoi(value);
    else if (flag == "--passage-length") s.passage_length = std::stoi(value);
    else if (flag == "--lr") s.lr = std::stof(value);
    else if (flag == "--compute") s.compute = backend::parse_compute(value);
    else if (flag == "--instruction") s.instruction = value;
    else fail("unknown flag " + flag);
  }
  if (s.model.empty() || s.sentences.empty() || s.beir.empty())
    fail("usage: experiments --model M --sentences FILE --beir DIR [--steps N] [--batch N] [--max-length N] "
         "[--passage-length N] [--lr F] [--compute f32|bf16] [--instruction TEXT]");
  Model model = load_model(s.model);
  const auto tokenizer = std::make_shared<const text::Tokenizer>(load_tokenizer(s.model));
  const eval::BeirDataset data = eval::load_beir(s.beir);
  std::printf("%s; %d SimCSE steps of %d sentences (<= %d tokens), LoRA r%d, lr %g, dropout %g; %zu passages (<= %d "
              "tokens), %zu queries; %s products, %d threads\n",
              s.model.c_str(), s.steps, s.batch, s.max_length, s.lora_rank, double(s.lr), double(s.dropout),
              data.corpus.size(), s.passage_length, data.queries.size(), std::string(backend::compute_name(s.compute)).c_str(),
              Eigen::nbThreads());
  std::printf("\n| attention | pooling | objective | loss first -> last | train tokens/s | encode tokens/s | recall@10 | nDCG@10 |\n"
              "|---|---|---|---|---:|---:|---:|---:|\n");
  std::apply([&]<class... E>(E...) {
    (([&] {
       const Row r = run<E>(s, model, tokenizer, data);
       std::printf("| %s | %s | %s | %.2f -> %.2f | %.0f | %.0f | %.3f | %.3f |\n", r.attention.c_str(), r.pooling.c_str(),
                   r.objective.c_str(), r.loss_first, r.loss_last, r.train_tokens_per_s, r.encode_tokens_per_s, r.recall10, r.ndcg);
       std::fflush(stdout);
     }()), ...);
  }, Experiments{});
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "experiments: %s\n", e.what());
  return 1;
}
