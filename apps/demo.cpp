// bg2vec demo: the whole LLM2Vec recipe on the embedded default, each stage a bg2vec command that can be
// rerun by hand: data -> the causal model (the embedded Gemma-3-270M imported from its GGUF, any --model,
// or with --from-scratch a small decoder pretrained here) -> bidirectional + MNTP -> SimCSE, and SimCSE
// alone on the causal model as the ablation -> a FAISS index of the final encoder -> every stage on every
// held-out set -> report.md/report.json.
#include "cli.hpp"
#include "demo/bootstrap.hpp"
#include "demo/corpus.hpp"
#include "demo/evaluate.hpp"
#include "demo/passages.hpp"
#include "demo/report.hpp"
#include "demo/settings.hpp"
#include "demo/subprocess.hpp"

#include <bg2vec/core/resources.hpp>

namespace bg2vec::cli {
namespace {

using demo::run_bg2vec;
namespace fs = std::filesystem;

io::ModelConfig decoder_config(const demo::DemoSettings& s) {
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
  c.max_position_embeddings = 4 * s.ntp.seq_len;
  c.tie_word_embeddings = true;       // halves the vocabulary's share of a small model
  c.bos_token_id = 1; c.eos_token_id = 2; c.pad_token_id = 0;
  return c;
}

std::vector<std::string> train_args(const std::string& objective, const std::string& from_flag, const fs::path& from,
                                    const fs::path& out, const demo::TrainSettings& t, uint64_t seed) {
  return {"train", "--objective", objective, from_flag, from.string(), "--out", out.string(), "--steps", std::to_string(t.steps),
          "--batch-size", std::to_string(t.batch), "--seq-len", std::to_string(t.seq_len), "--lr", demo::short_number(t.lr),
          "--seed", std::to_string(seed), "--checkpoint-every", "0"};
}

std::vector<std::string> lora_args(const demo::DemoSettings& s) {
  if (s.lora_rank == 0) return {};
  return {"--lora-rank", std::to_string(s.lora_rank), "--lora-alpha", demo::short_number(s.lora_alpha), "--lora-dropout",
          demo::short_number(s.lora_dropout)};
}

// The name of a BEIR folder given by the user, checked against the demo's own and the other given ones.
std::string set_name(const std::string& dir, const std::vector<std::string>& taken) {
  const fs::path folder = fs::path(dir).lexically_normal();
  const std::string name = (folder.has_filename() ? folder : folder.parent_path()).filename().string();
  for (const auto& t : taken)
    require(name != t, "'" + dir + "': the name '" + name + "' is taken (by the demo's own sets or another given one); rename the folder");
  return name;
}

const std::vector<std::string> kOwnSets = {"wiki-sections", "wiki-cloze", "dev-sections", "wiki-fragments", "wiki-continuations",
                                           "dev-fragments"};

// Model folders the demo writes in float32 (causal, mntp, encoder and the three runs/), for its disk estimate.
constexpr int kModelFolders = 6;

// --out before any work: an empty or new folder, or with --overwrite an earlier demo's (it carries the marker
// file), which is removed; never a folder of other files. Then the disk space the model folders need.
void prepare_out(const fs::path& out, bool overwrite, double model_bytes) {
  const fs::path marker = out / ".bg2vec-demo";
  if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out))) {
    if (!overwrite) fail(out, "already exists and is not empty (choose another --out, or --overwrite to replace an earlier demo)");
    if (!fs::exists(marker)) fail(out, "holds files that no demo wrote: --overwrite replaces only an earlier demo's folder");
    fs::remove_all(out);
  }
  fs::create_directories(out);
  write_file_atomically(marker, "written by bg2vec demo\n");
  const double needed = model_bytes * 1.1;   // the folders, their tokenizers and the data beside them
  if (const double free = free_disk_bytes(out); needed > free)
    fail(out, "the demo writes about " + gib(needed) + " and the disk has " + gib(free) + " free");
}

int demo_command(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("out", po::value<std::string>()->required(), "output folder (report.md, report.json, causal/, encoder/, data/)")
      ("model", po::value<std::string>()->default_value(BG2VEC_DEFAULT_MODEL),
       "the pretrained LLM to convert: a GGUF file or a Hugging Face folder (default: the embedded Gemma-3-270M)")
      ("from-scratch", po::bool_switch(), "no pretrained model: pretrain a small decoder here first (offline fallback)")
      ("data", po::value<std::string>()->default_value(BG2VEC_DATA_DIR), "the shipped data folder")
      ("quick", po::bool_switch(), "tiny settings: a smoke test of the whole chain (about 3 minutes)")
      ("ntp-steps", po::value<int>(), "NTP pretraining steps (--from-scratch)")
      ("mntp-steps", po::value<int>(), "MNTP steps")
      ("simcse-steps", po::value<int>(), "SimCSE steps")
      ("eval-set", po::value<std::vector<std::string>>()->composing(),
       "another BEIR folder to evaluate every stage on; repeatable")
      ("classify-set", po::value<std::vector<std::string>>()->composing(),
       "a folder with train.tsv and test.tsv (label<TAB>text, as `eval classify`): linear-probe accuracy of every stage; repeatable")
      ("compute", po::value<std::string>()->default_value(""), "f32 | bf16 | auto (default: bf16 where the CPU has AVX512-BF16)")
      ("batch-size", po::value<int>()->default_value(16), "encoding batch size during evaluation")
      ("overwrite", po::bool_switch(), "replace --out when it holds an earlier demo (never a folder of other files)");
  po::variables_map vm;
  if (!parse("demo", "Turn a pretrained LLM into a Bulgarian text encoder with the LLM2Vec recipe, evaluate every stage on "
                     "held-out sets and write a report.", options, args, vm))
    return 0;
  const bool quick = vm["quick"].as<bool>(), from_scratch = vm["from-scratch"].as<bool>();
  demo::DemoSettings s = from_scratch ? demo::DemoSettings::scratch(quick) : demo::DemoSettings::pretrained(quick);
  if (vm.count("ntp-steps")) s.ntp.steps = vm["ntp-steps"].as<int>();
  if (vm.count("mntp-steps")) s.mntp.steps = vm["mntp-steps"].as<int>();
  if (vm.count("simcse-steps")) s.simcse.steps = vm["simcse-steps"].as<int>();
  require(s.ntp.steps > 0 && s.mntp.steps > 0 && s.simcse.steps > 0, "step counts must be positive");
  const backend::Compute compute = backend::parse_compute(vm["compute"].as<std::string>());
  const fs::path out = vm["out"].as<std::string>(), data = vm["data"].as<std::string>();
  const fs::path model = vm["model"].as<std::string>();

  // Everything given is checked before minutes of training, not after.
  std::string architecture;
  if (!from_scratch) {
    if (!fs::exists(model))
      fail(model, vm["model"].defaulted() ? "the embedded default model is not installed: run `bash scripts/setup_model.sh` "
                                            "(or give --model FILE.gguf|DIR, or --from-scratch)"
                                          : "no such model file or folder");
    architecture = load_model_config(model).architecture;   // a supported architecture, or a clear error now
    if (!has_tokenizer(model)) fail(model, "no tokenizer.model in the model folder (the demo encodes text with it)");
  }
  std::vector<std::string> taken = kOwnSets;
  std::vector<demo::EvalSet> extra_sets;
  if (vm.count("eval-set"))
    for (const auto& dir : vm["eval-set"].as<std::vector<std::string>>()) {
      const eval::BeirDataset check = eval::load_beir(dir);
      taken.push_back(set_name(dir, taken));
      extra_sets.push_back({taken.back(), "given with --eval-set " + dir, dir, check.queries.size(), check.corpus.size()});
    }
  std::vector<demo::ClassifySet> classify_sets;
  if (vm.count("classify-set"))
    for (const auto& dir : vm["classify-set"].as<std::vector<std::string>>()) {
      taken.push_back(set_name(dir, taken));
      classify_sets.push_back({taken.back(), eval::load_labelled_tsv(fs::path(dir) / "train.tsv"),
                               eval::load_labelled_tsv(fs::path(dir) / "test.tsv")});
    }

  prepare_out(out, vm["overwrite"].as<bool>(),
              from_scratch ? 0.0 : double(ParameterLayout(load_model_config(model)).total()) * 4 * kModelFolders);
  const fs::path work = out / "data";
  fs::create_directories(work);
  nlohmann::json settings_json = s.json();
  settings_json["model"] = from_scratch ? "from scratch (--from-scratch)" : model.string();
  settings_json["compute"] = std::string(backend::compute_name(compute));
  std::string notice;
  if (architecture.rfind("Gemma", 0) == 0)
    notice = "The model is Google's, used under the Gemma terms of use (https://ai.google.dev/gemma/terms; scripts/setup_model.sh "
             "installs a copy beside the embedded default); what the demo writes from it is a model derivative under the same terms.";
  demo::Report report(out, settings_json, from_scratch ? "wiki-fragments" : "wiki-sections",
                      from_scratch ? "a small decoder pretrained here" : model.filename().string(), notice);
  const uint64_t seeds[] = {1, 2};
  auto encoder_settings = [&](const std::string& attention, const std::string& pooling) {
    EncoderSettings e;
    e.attention = attention;
    e.pooling = pooling;
    e.skip_bos = pooling != "bos";     // BOS carries no content: left out of every pooling but BOS's own
    e.max_length = s.max_length;
    return e;
  };

  // 1. Data: the shipped sentences split into training text and held-out sentence sets; the dump excerpt
  //    (never trained on) cut into passage sets; SimCSE units from the training text only.
  report.begin_stage("data", "split the sentences, passage sets from the dump excerpt, SimCSE units");
  demo::CorpusOptions corpus_options;
  corpus_options.max_queries = s.max_queries;
  corpus_options.max_documents = s.max_sentence_documents;
  const demo::DemoCorpus corpus =
      demo::build_demo_corpus(data / "corpus" / "wikiann-bg.sentences.txt.bz2", {}, work, corpus_options);
  demo::PassageSetOptions passage_options;
  passage_options.max_sections = s.max_sections;
  const demo::PassageSets passages =
      demo::build_passage_sets(data / "bgwiki" / "bgwiki-excerpt-pages-articles.xml.bz2", work, passage_options);
  std::fprintf(stderr, "corpus: %zu training sentences, %zu held out, %zu debris lines dropped; %zu passages from %zu sections\n",
               corpus.train_sentences, corpus.held_out_sentences, corpus.dropped_lines, passages.passages, passages.sections);
  report.add_peak(run_bg2vec({"data", "sentences", "--input", corpus.train_text.string(), "--out", (work / "simcse.txt").string(),
                              "--min-chars", "20", "--max-chars", "400"}));
  report.end_stage();

  // 2. The causal model: imported (the real recipe), or pretrained here with next-token prediction.
  const fs::path causal = out / "causal", shards = work / "shards";
  if (from_scratch) {
    report.begin_stage("tokenizer", "a unigram tokenizer and token shards of the training text");
    const fs::path tokenizer = work / "tokenizer.model";
    report.add_peak(run_bg2vec({"tokenizer", "train", "--input", corpus.train_text.string(), "--vocab-size", std::to_string(s.vocab),
                                "--model-type", "unigram", "--out", tokenizer.string()}));
    report.add_peak(run_bg2vec({"data", "tokenize", "--tokenizer", tokenizer.string(), "--input", corpus.train_text.string(), "--out",
                                shards.string(), "--seq-len", std::to_string(s.ntp.seq_len), "--val-fraction", "0.02"}));
    io::ModelConfig config = decoder_config(s);
    config.vocab_size = std::max(s.vocab, text::Tokenizer(tokenizer).vocab_size());
    write_file_atomically(work / "decoder-config.json", io::to_json(config).dump(2) + "\n");
    report.end_stage();
    report.begin_stage("ntp", "pretrain the decoder (causal, next-token prediction)");
    auto ntp = train_args("ntp", "--init-config", work / "decoder-config.json", causal, s.ntp, seeds[0]);
    ntp.insert(ntp.end(), {"--shards", shards.string(), "--tokenizer", tokenizer.string(), "--warmup",
                           std::to_string(std::max(1, s.ntp.steps / 20)), "--val-every", std::to_string(std::max(1, s.ntp.steps / 10))});
    report.add_peak(run_bg2vec(ntp));
    report.end_stage(causal / "train_log.jsonl");
  } else {
    report.begin_stage("import", "the pretrained model as a Hugging Face folder (float32 weights, its tokenizer)");
    if (fs::exists(causal / "config.json")) {
      std::fprintf(stderr, "%s exists: kept (remove it to import again)\n", causal.c_str());
    } else if (is_gguf(model)) {
      report.add_peak(run_bg2vec({"gguf", "import", "--gguf", model.string(), "--out", causal.string(), "--dtype", "f32"}));
    } else {   // a Hugging Face folder: its config, weights (sharded too) and tokenizer
      fs::create_directories(causal);
      for (const auto& entry : fs::directory_iterator(model)) {
        const fs::path f = entry.path().filename();
        if (!entry.is_regular_file() || !(f.extension() == ".safetensors" || f.extension() == ".json" || f == "tokenizer.model")) continue;
        std::fprintf(stderr, "$ cp %s %s/\n", entry.path().c_str(), causal.c_str());
        fs::copy_file(entry.path(), causal / f, fs::copy_options::overwrite_existing);
      }
    }
    report.add_peak(run_bg2vec({"data", "tokenize", "--tokenizer", (causal / "tokenizer.model").string(), "--input",
                                corpus.train_text.string(), "--out", shards.string(), "--seq-len", std::to_string(s.mntp.seq_len),
                                "--val-fraction", "0.02"}));
    report.end_stage();
  }
  encoder_settings("causal", "mean").save(causal);   // each folder serves as its report row was measured

  // 3. Bidirectional attention + masked next-token prediction.
  report.begin_stage("mntp", "bidirectional attention + MNTP" + std::string(s.lora_rank ? " (LoRA)" : ""));
  auto mntp = train_args("mntp", "--model", causal, out / "mntp", s.mntp, seeds[0]);
  mntp.insert(mntp.end(), {"--shards", shards.string(), "--mask-rate", demo::short_number(s.mask_rate), "--mask-mode", s.mask_mode,
                           "--warmup", std::to_string(std::max(1, s.mntp.steps / 10))});
  if (!s.mask_piece.empty()) mntp.insert(mntp.end(), {"--mask-token", s.mask_piece});
  const auto lora = lora_args(s);
  mntp.insert(mntp.end(), lora.begin(), lora.end());
  report.add_peak(run_bg2vec(mntp));
  encoder_settings("bidirectional", "mean").save(out / "mntp");
  report.end_stage(out / "mntp" / "train_log.jsonl");

  // 4. Unsupervised SimCSE on the MNTP model (the final encoder; with LoRA a fresh adapter on the merged
  //    MNTP weights), and with the same budget on the causal model (the paper's "Uni + SimCSE"
  //    ablation); two seeds each for the bootstrap interval.
  auto simcse = [&](const fs::path& from, const fs::path& to, const std::string& attention, uint64_t seed) {
    auto a = train_args("simcse", "--model", from, to, s.simcse, seed);
    a.insert(a.end(), {"--text-file", (work / "simcse.txt").string(), "--group-by-length", "--dropout",
                       demo::short_number(s.simcse_dropout), "--attention", attention});
    a.insert(a.end(), lora.begin(), lora.end());
    report.add_peak(run_bg2vec(a));
    encoder_settings(attention, "mean").save(to);
  };
  report.begin_stage("simcse", "SimCSE on bidirectional + MNTP (seeds 1, 2)");
  simcse(out / "mntp", out / "encoder", "bidirectional", seeds[0]);
  simcse(out / "mntp", out / "runs" / "mntp-simcse-seed2", "bidirectional", seeds[1]);
  report.end_stage(out / "encoder" / "train_log.jsonl");
  report.begin_stage("causal-simcse", "SimCSE on the causal model, same budget (seeds 1, 2)");
  simcse(causal, out / "runs" / "causal-simcse", "causal", seeds[0]);
  simcse(causal, out / "runs" / "causal-simcse-seed2", "causal", seeds[1]);
  report.end_stage(out / "runs" / "causal-simcse" / "train_log.jsonl");

  // 5. A FAISS index of the final encoder over the primary set's corpus: the encoder as users serve it.
  const demo::EvalSet& primary = from_scratch ? corpus.eval_sets.front() : passages.test.front();
  report.begin_stage("index", "a FAISS index of the final encoder over " + primary.name);
  report.add_peak(run_bg2vec({"index", "build", "--model", (out / "encoder").string(), "--corpus", (primary.dir / "corpus.jsonl").string(),
                              "--factory", "Flat", "--out", (out / "index").string(), "--compute", std::string(backend::compute_name(compute))}));
  report.end_stage();

  // 6. Every stage on every held-out set; one encoding per model folder and attention.
  report.begin_stage("evaluate", "BM25 and every encoder on the held-out sets");
  std::vector<demo::EvalSet> sets = passages.test;
  sets.insert(sets.end(), corpus.eval_sets.begin(), corpus.eval_sets.end());
  sets.insert(sets.end(), extra_sets.begin(), extra_sets.end());
  sets.push_back(passages.dev);
  sets.push_back(corpus.dev_set);
  if (from_scratch) std::rotate(sets.begin(), sets.begin() + 2, sets.begin() + 4);   // the sentence sets first
  const demo::EvalData eval_data(sets, classify_sets);
  const std::string raw = from_scratch ? "NTP decoder" : "raw model";
  using Group = std::vector<demo::StageSpec>;
  const std::vector<Group> groups = {
      {{"causal-mean", causal, encoder_settings("causal", "mean"), raw + ", causal, mean"},
       {"causal-weighted-mean", causal, encoder_settings("causal", "weighted-mean"), raw + ", causal, weighted mean"},
       {"causal-last", causal, encoder_settings("causal", "last"), raw + ", causal, last token"}},
      {{"bidirectional-mean", causal, encoder_settings("bidirectional", "mean"), raw + ", bidirectional without training"}},
      {{"mntp-mean", out / "mntp", encoder_settings("bidirectional", "mean"), "+ MNTP"}},
      {{"mntp-simcse-mean", out / "encoder", encoder_settings("bidirectional", "mean"), "+ MNTP + SimCSE"}},
      {{"causal-simcse-mean", out / "runs" / "causal-simcse", encoder_settings("causal", "mean"), "causal + SimCSE (ablation)"}},
  };
  // The second seeds, for the bootstrap interval of the final encoder against the ablation. For a real model
  // on the passage sets and the user's only: the sentence sets cost as much again to encode.
  std::vector<demo::EvalSet> seed_sets = sets;
  if (!from_scratch) {
    seed_sets = passages.test;
    seed_sets.insert(seed_sets.end(), extra_sets.begin(), extra_sets.end());
  }
  const demo::EvalData seed_data(seed_sets, {});
  const std::vector<Group> second_seeds = {
      {{"mntp-simcse-mean seed 2", out / "runs" / "mntp-simcse-seed2", encoder_settings("bidirectional", "mean"), ""}},
      {{"causal-simcse-mean seed 2", out / "runs" / "causal-simcse-seed2", encoder_settings("causal", "mean"), ""}},
  };
  std::map<std::string, demo::StageScores> scores;
  scores["bm25"] = eval_data.bm25();
  report.add_stage_scores(eval_data, {"bm25", {}, {}, "Okapi BM25 (k1 1.2, b 0.75) over lower-cased words"}, scores["bm25"]);
  const int batch_size = vm["batch-size"].as<int>();
  auto score = [&](const demo::EvalData& data, const Group& group) {
    std::fprintf(stderr, "$ bg2vec eval retrieval --model %s --attention %s --pooling %s --beir <each set>\n",
                 group[0].model.c_str(), group[0].settings.attention.c_str(), group[0].settings.pooling.c_str());
    demo::EncodeStats stats;
    const auto group_scores = data.score(group, batch_size, compute, &stats);
    report.add_encoding(group[0].model.filename().string() + " (" + group[0].settings.attention + ")", stats);
    for (size_t i = 0; i < group.size(); ++i) {
      scores[group[i].name] = group_scores[i];
      if (!group[i].description.empty()) report.add_stage_scores(data, group[i], group_scores[i]);
    }
  };
  for (const auto& group : groups) score(eval_data, group);
  for (const auto& group : second_seeds) score(seed_data, group);
  for (size_t set = 0; set < seed_sets.size(); ++set) {
    const auto& name = seed_sets[set].name;
    for (const char* stage : {"mntp-simcse-mean", "causal-simcse-mean"})
      report.add_seed(seed_sets[set], stage, scores.at(std::string(stage) + " seed 2").retrieval.at(name).mean.ndcg_10);
    std::vector<std::vector<double>> differences;
    for (const char* seed : {"", " seed 2"}) {
      const auto a = demo::per_query_ndcg(scores.at(std::string("mntp-simcse-mean") + seed).retrieval.at(name), seed_data.data(set));
      const auto b = demo::per_query_ndcg(scores.at(std::string("causal-simcse-mean") + seed).retrieval.at(name), seed_data.data(set));
      std::vector<double> d(a.size());
      for (size_t q = 0; q < a.size(); ++q) d[q] = a[q] - b[q];
      differences.push_back(std::move(d));
    }
    report.add_comparison(seed_sets[set], "mntp-simcse-mean", "causal-simcse-mean", demo::paired_bootstrap(differences));
  }
  report.end_stage();
  report.write();
  std::printf("report: %s\n", (out / "report.md").c_str());
  return 0;
}

const Command registered_demo{"demo", "the LLM2Vec recipe end to end on the embedded default model and data, with a report", demo_command};

}  // namespace
}  // namespace bg2vec::cli
