// bg2vec demo: the whole LLM2Vec recipe on the embedded default data, each stage a bg2vec command that
// can be rerun by hand: data -> NTP-pretrained small decoder (stands in for BgGPT) -> bidirectional +
// MNTP -> SimCSE -> retrieval evaluation of every stage on two held-out sets -> report.md/report.json.
#include "cli.hpp"
#include "demo/bootstrap.hpp"
#include "demo/corpus.hpp"
#include "demo/evaluate.hpp"
#include "demo/report.hpp"
#include "demo/subprocess.hpp"

namespace bg2vec::cli {
namespace {

using demo::run_bg2vec;
namespace fs = std::filesystem;

// Sizes of one run; `quick` is the CI smoke test's.
struct DemoSettings {
  int vocab = 4000, layers = 4, hidden = 256, heads = 4, kv_heads = 2, ffn = 688, seq_len = 64;
  int ntp_steps = 700, ntp_batch = 32;          // ~1.4M tokens, about 4 epochs of the training text
  int mntp_steps = 150, mntp_batch = 32;
  int simcse_steps = 60, simcse_batch = 64;
  float ntp_lr = 2e-3f, mntp_lr = 5e-4f, simcse_lr = 3e-4f, simcse_dropout = 0.1f;   // chosen on dev-fragments (docs/demo.md)
  float mask_rate = 0.2f;
  std::string mask_mode = "bert";
  size_t max_queries = 500;

  nlohmann::json json() const {
    return {{"decoder", {{"vocabulary", vocab}, {"layers", layers}, {"hidden", hidden}, {"heads", heads}, {"kv_heads", kv_heads},
                         {"ffn", ffn}, {"tied_embeddings", true}}},
            {"sequence_length", seq_len},
            {"ntp", {{"steps", ntp_steps}, {"batch", ntp_batch}, {"lr", ntp_lr}, {"schedule", "linear, 5% warm-up"}}},
            {"mntp", {{"steps", mntp_steps}, {"batch", mntp_batch}, {"lr", mntp_lr}, {"mask_rate", mask_rate}, {"mask_mode", mask_mode},
                      {"training", "full fine-tuning"}}},
            {"simcse", {{"steps", simcse_steps}, {"batch", simcse_batch}, {"lr", simcse_lr}, {"dropout", simcse_dropout},
                        {"temperature", 0.05}, {"seeds", {1, 2}}}},
            {"pooling", "BOS left out of mean, weighted-mean and last-token pooling"},
            {"max_queries_per_set", max_queries}};
  }

  static DemoSettings quick() {
    DemoSettings s;
    s.vocab = 1000; s.layers = 2; s.hidden = 64; s.heads = 4; s.kv_heads = 2; s.ffn = 160; s.seq_len = 32;
    s.ntp_steps = 40; s.ntp_batch = 16; s.mntp_steps = 15; s.mntp_batch = 16; s.simcse_steps = 10; s.simcse_batch = 32;
    s.max_queries = 60;
    return s;
  }
};

io::ModelConfig decoder_config(const DemoSettings& s) {
  io::ModelConfig c;
  c.architecture = "MistralForCausalLM";
  c.vocab_size = s.vocab;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.ffn;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.hidden / s.heads;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.max_position_embeddings = 4 * s.seq_len;
  c.tie_word_embeddings = true;       // halves the vocabulary's share of a small model
  c.bos_token_id = 1; c.eos_token_id = 2; c.pad_token_id = 0;
  return c;
}

EncoderSettings settings(const std::string& attention, const std::string& pooling) {
  EncoderSettings e;
  e.attention = attention;
  e.pooling = pooling;
  e.skip_bos = pooling != "bos";       // BOS carries no content: left out of every pooling but BOS's own
  return e;
}

std::vector<std::string> train_args(const std::string& objective, const std::string& from_flag, const fs::path& from,
                                    const fs::path& out, int steps, int batch, int seq_len, float lr, uint64_t seed) {
  return {"train", "--objective", objective, from_flag, from.string(), "--out", out.string(),
          "--steps", std::to_string(steps), "--batch-size", std::to_string(batch), "--seq-len", std::to_string(seq_len),
          "--lr", demo::short_number(lr), "--seed", std::to_string(seed), "--checkpoint-every", "0"};
}

int demo_command(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("out", po::value<std::string>()->required(), "output folder (report.md, report.json, causal/, encoder/, data/)")
      ("data", po::value<std::string>()->default_value(BG2VEC_DATA_DIR), "the shipped data folder")
      ("quick", po::bool_switch(), "tiny settings (a smoke test of the whole chain in a minute or two)")
      ("ntp-steps", po::value<int>(), "NTP pretraining steps")
      ("mntp-steps", po::value<int>(), "MNTP steps")
      ("simcse-steps", po::value<int>(), "SimCSE steps")
      ("eval-set", po::value<std::vector<std::string>>()->composing(),
       "another BEIR folder (e.g. news from `bg2vec data make-retrieval`) to evaluate every stage on; repeatable")
      ("batch-size", po::value<int>()->default_value(32), "encoding batch size during evaluation");
  po::variables_map vm;
  if (!parse("demo", "Run the LLM2Vec recipe end to end on the embedded Bulgarian data and write a report.", options, args, vm))
    return 0;
  DemoSettings s = vm["quick"].as<bool>() ? DemoSettings::quick() : DemoSettings{};
  if (vm.count("ntp-steps")) s.ntp_steps = vm["ntp-steps"].as<int>();
  if (vm.count("mntp-steps")) s.mntp_steps = vm["mntp-steps"].as<int>();
  if (vm.count("simcse-steps")) s.simcse_steps = vm["simcse-steps"].as<int>();
  require(s.ntp_steps > 0 && s.mntp_steps > 0 && s.simcse_steps > 0, "step counts must be positive");
  const fs::path out = vm["out"].as<std::string>(), data = vm["data"].as<std::string>();
  // The user's own sets are checked before hours of training, not after.
  std::vector<demo::EvalSet> extra_sets;
  if (vm.count("eval-set"))
    for (const auto& dir : vm["eval-set"].as<std::vector<std::string>>()) {
      const eval::BeirDataset check = eval::load_beir(dir);
      const fs::path folder = fs::path(dir).lexically_normal();
      const std::string name = (folder.has_filename() ? folder : folder.parent_path()).filename().string();
      for (const auto& taken : {"wiki-fragments", "wiki-continuations", "dev-fragments"})
        require(name != taken, "--eval-set " + dir + ": the name '" + name + "' is one of the demo's own sets; rename the folder");
      for (const auto& other : extra_sets)
        require(name != other.name, "--eval-set " + dir + ": two sets named '" + name + "'");
      extra_sets.push_back({name, "given with --eval-set " + dir, dir, check.queries.size(), check.corpus.size()});
    }
  const fs::path work = out / "data";
  fs::create_directories(work);
  demo::Report report(out, s.json());
  const uint64_t seeds[] = {1, 2};

  // 1. Data: the dump excerpt through the extractor, the sentences split into training text and two
  //    held-out retrieval sets, a tokenizer, token shards and SimCSE units from the training text only.
  report.begin_stage("data", "extract, clean, split, tokenizer, shards, SimCSE units, retrieval sets");
  run_bg2vec({"wiki", "extract", "--dump", (data / "bgwiki" / "bgwiki-excerpt-pages-articles.xml.bz2").string(),
              "--out", (work / "wiki-excerpt.jsonl").string()});
  demo::CorpusOptions corpus_options;
  corpus_options.max_queries = s.max_queries;
  const demo::DemoCorpus corpus = demo::build_demo_corpus(data / "corpus" / "wikiann-bg.sentences.txt.bz2",
                                                          {work / "wiki-excerpt.jsonl"}, work, corpus_options);
  std::fprintf(stderr, "corpus: %zu training sentences, %zu held out, %zu debris lines dropped\n", corpus.train_sentences,
               corpus.held_out_sentences, corpus.dropped_lines);
  const fs::path tokenizer = work / "tokenizer.model";
  run_bg2vec({"tokenizer", "train", "--input", corpus.train_text.string(), "--vocab-size", std::to_string(s.vocab),
              "--model-type", "unigram", "--out", tokenizer.string()});
  run_bg2vec({"data", "tokenize", "--tokenizer", tokenizer.string(), "--input", corpus.train_text.string(), "--out",
              (work / "shards").string(), "--seq-len", std::to_string(s.seq_len), "--val-fraction", "0.02"});
  run_bg2vec({"data", "sentences", "--input", corpus.train_text.string(), "--out", (work / "simcse.txt").string(),
              "--min-chars", "20", "--max-chars", "400"});
  io::ModelConfig config = decoder_config(s);
  config.vocab_size = std::max(s.vocab, text::Tokenizer(tokenizer).vocab_size());
  write_file_atomically(work / "decoder-config.json", io::to_json(config).dump(2) + "\n");
  report.end_stage();

  // 2. A small Mistral-architecture decoder pretrained with next-token prediction: our stand-in for BgGPT.
  report.begin_stage("ntp", "pretrain the decoder (causal, next-token prediction)");
  auto ntp = train_args("ntp", "--init-config", work / "decoder-config.json", out / "causal", s.ntp_steps, s.ntp_batch,
                        s.seq_len, s.ntp_lr, seeds[0]);
  ntp.insert(ntp.end(), {"--shards", (work / "shards").string(), "--tokenizer", tokenizer.string(), "--warmup",
                         std::to_string(std::max(1, s.ntp_steps / 20)), "--val-every", std::to_string(std::max(1, s.ntp_steps / 10))});
  run_bg2vec(ntp);
  settings("causal", "mean").save(out / "causal");   // each folder serves as its report row was measured
  report.end_stage(out / "causal" / "train_log.jsonl");

  // 3. Bidirectional attention + masked next-token prediction (full fine-tuning: the model is small).
  report.begin_stage("mntp", "bidirectional attention + MNTP");
  auto mntp = train_args("mntp", "--model", out / "causal", out / "mntp", s.mntp_steps, s.mntp_batch, s.seq_len, s.mntp_lr, seeds[0]);
  mntp.insert(mntp.end(), {"--shards", (work / "shards").string(), "--mask-rate", demo::short_number(s.mask_rate),
                           "--mask-mode", s.mask_mode, "--warmup", std::to_string(std::max(1, s.mntp_steps / 10))});
  run_bg2vec(mntp);
  settings("bidirectional", "mean").save(out / "mntp");
  report.end_stage(out / "mntp" / "train_log.jsonl");

  // 4. Unsupervised SimCSE on the MNTP model (the final encoder), and with the same budget on the
  //    causal model (the paper's "Uni + SimCSE" ablation); two seeds each for the bootstrap interval.
  auto simcse = [&](const fs::path& from, const fs::path& to, const std::string& attention, uint64_t seed) {
    auto a = train_args("simcse", "--model", from, to, s.simcse_steps, s.simcse_batch, s.seq_len, s.simcse_lr, seed);
    a.insert(a.end(), {"--text-file", (work / "simcse.txt").string(), "--dropout", demo::short_number(s.simcse_dropout),
                       "--attention", attention});
    run_bg2vec(a);
    settings(attention, "mean").save(to);
  };
  report.begin_stage("simcse", "SimCSE on bidirectional + MNTP (seeds 1, 2)");
  simcse(out / "mntp", out / "encoder", "bidirectional", seeds[0]);
  simcse(out / "mntp", out / "runs" / "mntp-simcse-seed2", "bidirectional", seeds[1]);
  report.end_stage(out / "encoder" / "train_log.jsonl");
  report.begin_stage("causal-simcse", "SimCSE on the causal model, same budget (seeds 1, 2)");
  simcse(out / "causal", out / "runs" / "causal-simcse", "causal", seeds[0]);
  simcse(out / "causal", out / "runs" / "causal-simcse-seed2", "causal", seeds[1]);
  report.end_stage(out / "runs" / "causal-simcse" / "train_log.jsonl");

  // 5. Every stage on every held-out set.
  report.begin_stage("evaluate", "BM25 and every encoder on the held-out sets");
  const std::vector<demo::StageSpec> stages = {
      {"bm25", {}, {}, "Okapi BM25 (k1 1.2, b 0.75) over lower-cased words"},
      {"causal-mean", out / "causal", settings("causal", "mean"), "NTP decoder, causal, mean"},
      {"causal-weighted-mean", out / "causal", settings("causal", "weighted-mean"), "NTP decoder, causal, weighted mean"},
      {"causal-last", out / "causal", settings("causal", "last"), "NTP decoder, causal, last token"},
      {"bidirectional-mean", out / "causal", settings("bidirectional", "mean"), "NTP decoder, bidirectional without training"},
      {"mntp-mean", out / "mntp", settings("bidirectional", "mean"), "+ MNTP"},
      {"mntp-simcse-mean", out / "encoder", settings("bidirectional", "mean"), "+ MNTP + SimCSE"},
      {"causal-simcse-mean", out / "runs" / "causal-simcse", settings("causal", "mean"), "causal + SimCSE (ablation)"},
  };
  const std::vector<demo::StageSpec> second_seeds = {
      {"mntp-simcse-mean", out / "runs" / "mntp-simcse-seed2", settings("bidirectional", "mean"), ""},
      {"causal-simcse-mean", out / "runs" / "causal-simcse-seed2", settings("causal", "mean"), ""},
  };
  std::vector<demo::EvalSet> sets = corpus.eval_sets;
  sets.push_back(corpus.dev_set);
  sets.insert(sets.end(), extra_sets.begin(), extra_sets.end());
  for (const auto& set : sets) {
    const eval::BeirDataset dataset = eval::load_beir(set.dir);
    std::map<std::string, std::vector<std::vector<double>>> per_seed;   // stage -> seed -> per-query nDCG@10
    for (const auto& stage : stages) {
      const auto scores = demo::score_stage(stage, dataset, vm["batch-size"].as<int>());
      report.add_result(set, stage, scores.evaluation.mean, scores.seconds);
      per_seed[stage.name].push_back(demo::per_query_ndcg(scores.evaluation, dataset));
      std::fprintf(stderr, "%-20s %-22s nDCG@10 %.3f\n", set.name.c_str(), stage.name.c_str(), scores.evaluation.mean.ndcg_10);
    }
    for (const auto& stage : second_seeds) {
      const auto scores = demo::score_stage(stage, dataset, vm["batch-size"].as<int>());
      per_seed[stage.name].push_back(demo::per_query_ndcg(scores.evaluation, dataset));
      report.add_seed(set, stage.name, scores.evaluation.mean.ndcg_10);
    }
    std::vector<std::vector<double>> differences;
    for (size_t seed = 0; seed < 2; ++seed) {
      std::vector<double> d;
      for (size_t q = 0; q < dataset.queries.size(); ++q)
        d.push_back(per_seed["mntp-simcse-mean"][seed][q] - per_seed["causal-simcse-mean"][seed][q]);
      differences.push_back(std::move(d));
    }
    report.add_comparison(set, "mntp-simcse-mean", "causal-simcse-mean", demo::paired_bootstrap(differences));
  }
  report.end_stage();
  report.write();
  std::printf("report: %s\n", (out / "report.md").c_str());
  return 0;
}

const Command registered{"demo", "the whole recipe end to end on the embedded data, with a report", demo_command};

}  // namespace
}  // namespace bg2vec::cli
