// bg2vec::eval retrieval: BEIR loading, trec_eval metrics, TREC run files, BM25, dense runs.
#include <bg2vec/eval/beir.hpp>
#include <bg2vec/eval/bm25.hpp>
#include <bg2vec/eval/metrics.hpp>
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/eval/trec_run.hpp>
#include <bg2vec/eval/words.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace test_eval_retrieval {

using namespace bg2vec;
using namespace bg2vec::eval;
using doctest::Approx;

namespace {

const std::filesystem::path tiny = std::filesystem::path(BG2VEC_TEST_DATA) / "beir-tiny";

struct TempDir {
  std::filesystem::path path;
  TempDir() : path(std::filesystem::temp_directory_path() / ("bg2vec-test-eval-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path / "qrels");
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path write(const std::string& name, const std::string& contents) const {
    std::ofstream(path / name) << contents;
    return path / name;
  }
};

}  // namespace

TEST_CASE("metrics: several relevant documents, binary relevance") {
  // relevant d1 (rank 2) and d2 (rank 4)
  const Metrics m = evaluate_query({{"d3", 0.9}, {"d1", 0.8}, {"d4", 0.7}, {"d2", 0.6}}, {{"d1", 1}, {"d2", 1}});
  CHECK(m.recall_1 == 0);
  CHECK(m.recall_10 == 1);
  CHECK(m.recall_100 == 1);
  CHECK(m.mrr_10 == 0.5);
  CHECK(m.ndcg_10 == Approx((1 / std::log2(3.0) + 1 / std::log2(5.0)) / (1 + 1 / std::log2(3.0))));
  CHECK(m.ndcg_10 == Approx(0.650921));
}

TEST_CASE("metrics: graded relevance uses the grade as gain and the qrels for the ideal ranking") {
  // grade 1 ranked above grade 2; a third judged document (grade 3) is never retrieved
  const Metrics m = evaluate_query({{"b", 0.9}, {"a", 0.8}}, {{"a", 2}, {"b", 1}, {"c", 3}});
  const double dcg = 1 + 2 / std::log2(3.0), ideal = 3 + 2 / std::log2(3.0) + 1 / std::log2(4.0);
  CHECK(m.ndcg_10 == Approx(dcg / ideal));
  CHECK(m.recall_1 == Approx(1.0 / 3));
  CHECK(m.recall_10 == Approx(2.0 / 3));
  CHECK(m.mrr_10 == 1);
}

TEST_CASE("metrics: ties are broken as trec_eval does, by document id descending, whatever the input order") {
  const std::map<std::string, int> y_relevant{{"y", 1}}, x_relevant{{"x", 1}};
  CHECK(evaluate_query({{"x", 0.5}, {"y", 0.5}}, y_relevant).mrr_10 == 1);
  CHECK(evaluate_query({{"y", 0.5}, {"x", 0.5}}, y_relevant).mrr_10 == 1);
  CHECK(evaluate_query({{"x", 0.5}, {"y", 0.5}}, x_relevant).mrr_10 == 0.5);
}

TEST_CASE("metrics: cutoffs at 1, 10 and 100; negative and zero grades are not relevant") {
  Ranking ranking;
  for (int i = 0; i < 150; ++i) ranking.push_back({std::to_string(1000 + i), 1000.0 - i});
  ranking[10].id = "late";   // rank 11
  const Metrics m = evaluate_query(ranking, {{"late", 1}, {"never", 1}, {"1000", 0}, {"1001", -1}});
  CHECK(m.recall_1 == 0);
  CHECK(m.recall_10 == 0);
  CHECK(m.recall_100 == 0.5);
  CHECK(m.mrr_10 == 0);
  CHECK(m.ndcg_10 == 0);
}

TEST_CASE("evaluate: averages over judged queries; no result scores 0; unjudged run queries are ignored") {
  const Qrels qrels{{"q1", {{"d1", 1}}}, {"q2", {{"d2", 1}}}, {"q3", {{"d3", 0}}}};
  const Run run{{"q1", {{"d1", 1.0}}}, {"q3", {{"d3", 1.0}}}, {"unjudged", {{"d9", 1.0}}}};
  const Evaluation e = evaluate(run, qrels);
  CHECK(e.per_query.size() == 3);
  CHECK(e.per_query.at("q2").recall_100 == 0);   // nothing retrieved
  CHECK(e.per_query.at("q3").ndcg_10 == 0);      // nothing relevant to find
  CHECK(e.mean.recall_1 == Approx(1.0 / 3));
  CHECK(e.mean.ndcg_10 == Approx(1.0 / 3));
  const auto names = e.mean.named();
  CHECK(names[0].first == "recall@1");
  CHECK(names[4].first == "ndcg@10");
  CHECK_THROWS_WITH_AS(evaluate_query({{"d", 1}, {"d", 0.5}}, {{"d", 1}}), doctest::Contains("retrieved twice"), Error);
}

TEST_CASE("a TREC run file lists `qid Q0 docid rank score tag` in trec_eval order") {
  const Run run{{"q1", {{"a", 0.5}, {"c", 0.25}, {"b", 0.5}}}};
  CHECK(format_trec_run(run, "bm25") == "q1 Q0 b 1 0.5 bm25\nq1 Q0 a 2 0.5 bm25\nq1 Q0 c 3 0.25 bm25\n");
  CHECK_THROWS_AS(format_trec_run(run, "two words"), Error);
}

TEST_CASE("words: Unicode-aware lower-casing of Cyrillic, Latin and Greek; punctuation separates") {
  CHECK(lowercase_words("София, СОФИЯ и «Пловдив» — 2024 г.") ==
        std::vector<std::string>{"софия", "софия", "и", "пловдив", "2024", "г"});
  CHECK(lowercase("ЍЀЪЬЮЯ Ѣ ÀÉ ΣΩ Ÿ") == "ѝѐъьюя ѣ àé σω ÿ");
  CHECK(lowercase_words("a\xff" "b") == std::vector<std::string>{"a", "b"});   // invalid UTF-8 separates
  CHECK(lowercase_words("  ,.;  ").empty());
}

TEST_CASE("BM25 scores equal a hand computation (k1 1.2, b 0.75, Lucene idf)") {
  const Bm25 bm25({"котка куче", "котка котка мишка", "птица"});   // lengths 2, 3, 1; avgdl 2
  const double idf_cat = std::log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  const double idf_bird = std::log(1 + (3 - 1 + 0.5) / (1 + 0.5));
  CHECK(bm25.idf("котка") == Approx(idf_cat));
  CHECK(bm25.score("котка", 0) == Approx(idf_cat * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2.0))));
  CHECK(bm25.score("котка", 1) == Approx(idf_cat * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2.0))));
  CHECK(bm25.score("котка", 1) == Approx(0.566580));
  CHECK(bm25.score("ПТИЦА", 2) == Approx(idf_bird * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 1 / 2.0))));
  CHECK(bm25.score("котка котка", 0) == Approx(2 * bm25.score("котка", 0)));   // repeated terms count again
  const auto hits = bm25.search("котка", 10);
  REQUIRE(hits.size() == 2);   // "птица" shares no term
  CHECK(hits[0].doc == 1);
  CHECK(bm25.search("слон", 10).empty());
}

TEST_CASE("BM25 takes another analyzer, e.g. tokenizer pieces") {
  const Analyzer characters = [](const std::string& text) {
    std::vector<std::string> pieces;
    for (char c : text) pieces.push_back(std::string(1, c));
    return pieces;
  };
  const Bm25 bm25({"ab", "cd"}, characters);
  CHECK(bm25.search("xa", 10).at(0).doc == 0);
}

TEST_CASE("a BEIR folder loads: corpus, judged queries only, graded qrels") {
  const BeirDataset data = load_beir(tiny);
  CHECK(data.corpus.size() == 6);
  CHECK(data.corpus[0].title == "София");
  REQUIRE(data.queries.size() == 3);   // q4 has no judgments
  CHECK(data.queries[2].id == "q3");
  CHECK(data.qrels.at("q2").at("musala") == 2);
}

TEST_CASE("BM25 over the tiny BEIR set finds the obvious passages, across letter case") {
  const BeirDataset data = load_beir(tiny);
  const Run run = bm25_run(data);
  CHECK(run.at("q3").size() > 0);
  const Evaluation e = evaluate(run, data.qrels);
  CHECK(e.per_query.at("q3").recall_1 == 1);   // "ГРАД НА ЧЕРНО МОРЕ" -> Варна
  CHECK(e.per_query.at("q1").mrr_10 == 1);     // "най-големият град" -> София
}

TEST_CASE("a dense run ranks by cosine similarity and reports an approximate index's recall against exact") {
  const BeirDataset data = load_beir(tiny);   // corpus: sofia plovdiv varna rila danube musala
  const Matrix corpus = Matrix::Identity(6, 6);
  Matrix queries = Matrix::Zero(3, 6);
  queries(0, 0) = 1;                      // q1 -> sofia
  queries(1, 5) = 1, queries(1, 3) = 0.5;   // q2 -> musala, then rila
  queries(2, 2) = 1;                      // q3 -> varna
  const DenseRun exact = dense_run(data, corpus, queries);
  CHECK_FALSE(exact.recall_vs_exact.has_value());
  const Evaluation e = evaluate(exact.run, data.qrels);
  CHECK(e.mean.ndcg_10 == Approx(1));
  CHECK(e.mean.recall_1 == Approx((1 + 0.5 + 1) / 3.0));
  const DenseRun hnsw = dense_run(data, corpus, queries, "HNSW8,Flat", "efSearch=32");
  REQUIRE(hnsw.recall_vs_exact.has_value());
  CHECK(*hnsw.recall_vs_exact == Approx(1));
}

// Found by tests/fuzz/fuzz_beir.cpp (with the JSON dictionary): nlohmann throws out_of_range, not
// parse_error, for a number that overflows a double, and read_jsonl let it through naming no file or line.
TEST_CASE("regression (fuzz_beir): a number too large for a double in a JSON line names the file and the line") {
  TempDir dir;
  dir.write("corpus.jsonl", "{\"_id\":\"a\",\"text\":\"x\"}\n{\"_id\":\"b\",\"text\":\"y\",\"score\":1e999}\n");
  CHECK_THROWS_WITH_AS(load_corpus(dir.path / "corpus.jsonl"), doctest::Contains("corpus.jsonl:2: bad JSON: [json.exception.out_of_range.406]"),
                       Error);
}

TEST_CASE("bad BEIR input: errors name the file, the line and the problem") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(load_beir(dir.path / "nowhere"), doctest::Contains("nowhere: no such BEIR folder"), Error);
  CHECK_THROWS_WITH_AS(load_beir(dir.path), doctest::Contains("corpus.jsonl: no such file"), Error);

  dir.write("corpus.jsonl", "{\"_id\":\"a\",\"text\":\"x\"}\n{\"title\":\"t\",\"text\":\"x\"}\n");
  CHECK_THROWS_WITH_AS(load_corpus(dir.path / "corpus.jsonl"), doctest::Contains("corpus.jsonl:2: missing \"_id\""),
                       Error);
  dir.write("corpus.jsonl", "{\"_id\":\"a\"}\n\n{\"_id\": \"b\", text}\n");
  CHECK_THROWS_WITH_AS(load_corpus(dir.path / "corpus.jsonl"), doctest::Contains("corpus.jsonl:3: bad JSON"), Error);
  dir.write("corpus.jsonl", "{\"_id\":\"a\"}\n{\"_id\":\"a\"}\n");
  CHECK_THROWS_WITH_AS(load_corpus(dir.path / "corpus.jsonl"), doctest::Contains("corpus.jsonl:2: duplicate _id"),
                       Error);

  dir.write("queries.jsonl", "{\"_id\":\"q1\",\"text\":\"  \"}\n");
  CHECK_THROWS_WITH_AS(load_queries(dir.path / "queries.jsonl"),
                       doctest::Contains("queries.jsonl:1: empty query \"q1\""), Error);

  dir.write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\ta\tone\n");
  CHECK_THROWS_WITH_AS(load_qrels(dir.path / "qrels/test.tsv"),
                       doctest::Contains("test.tsv:2: score \"one\" is not an integer"), Error);
  dir.write("qrels/test.tsv", "q1 a 1\n");
  CHECK_THROWS_WITH_AS(load_qrels(dir.path / "qrels/test.tsv"), doctest::Contains("test.tsv:1: expected"), Error);

  dir.write("corpus.jsonl", "{\"_id\":\"a\",\"text\":\"x\"}\n");
  dir.write("queries.jsonl", "{\"_id\":\"q1\",\"text\":\"x\"}\n");
  dir.write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq2\ta\t1\n");
  CHECK_THROWS_WITH_AS(load_beir(dir.path), doctest::Contains("query \"q2\" is not in queries.jsonl"), Error);
}

}  // namespace test_eval_retrieval
