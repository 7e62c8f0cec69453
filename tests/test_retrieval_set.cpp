// The BEIR retrieval set built from articles: its format, its passages, and its determinism.
#include <bg2vec/data/retrieval_set.hpp>

#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace test_retrieval_set {

namespace fs = std::filesystem;
using namespace bg2vec;
using namespace bg2vec::data;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("bg2vec-test-retrieval-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// A sentence of `words` words, numbered so that every sentence is different.
std::string sentence(int article, int index, int words = 12) {
  std::string s = "Статия" + std::to_string(article) + " изречение" + std::to_string(index);
  for (int w = 2; w < words; ++w) s += " дума";
  return s + ".";
}

// Article `a`: a lead paragraph of 3 sentences, a heading, and `paragraphs` paragraphs of 6 sentences.
text::Article article(int a, int paragraphs) {
  std::string t = sentence(a, 0) + " " + sentence(a, 1) + " " + sentence(a, 2) + "\nИстория";
  for (int p = 0; p < paragraphs; ++p) {
    t += "\n";
    for (int k = 0; k < 6; ++k) t += (k ? " " : "") + sentence(a, 10 * (p + 1) + k);
  }
  return {std::to_string(100 + a), "Заглавие " + std::to_string(a), t};
}

void write_articles(const fs::path& p, const std::vector<text::Article>& articles) {
  std::ofstream out(p);
  for (const auto& a : articles) out << text::article_json_line(a);
}

}  // namespace

TEST_CASE("passages gather sentences to about 100-200 words on paragraph boundaries, without headings") {
  const auto a = article(1, 5);                 // 36 + 5 x 72 words
  const auto passages = make_passages(a.text, 100, 200);
  REQUIRE(passages.size() == 3);
  CHECK(word_count(passages[0]) == 36 + 72);    // the lead does not reach 100 words: the next paragraph joins
  CHECK(word_count(passages[1]) == 144);
  CHECK(word_count(passages[2]) == 144);
  for (const auto& p : passages) CHECK(p.find("История") == std::string::npos);
  CHECK(make_passages("Едно кратко изречение.", 100, 200) == std::vector<std::string>{"Едно кратко изречение."});
}

TEST_CASE("a BEIR set: the first sentence asks for the passage it was taken from") {
  TempDir dir;
  write_articles(dir / "articles.jsonl", {article(1, 3), article(2, 3), article(3, 3)});
  const auto stats = make_retrieval_set(dir / "articles.jsonl", dir / "beir");
  CHECK(stats.articles == 3);
  CHECK(stats.queries == 3);
  const auto corpus = read_jsonl(dir / "beir/corpus.jsonl");
  const auto queries = read_jsonl(dir / "beir/queries.jsonl");
  CHECK(corpus.size() == stats.passages);
  REQUIRE(queries.size() == 3);
  for (const auto& q : queries) {
    const std::string id = q["_id"];
    const std::string article_id = id.substr(1);
    const int a = std::stoi(article_id) - 100;
    CHECK(q["text"] == sentence(a, 0));
    bool found = false;
    for (const auto& p : corpus) {
      CHECK(std::string(p["text"]).find(sentence(a, 0)) == std::string::npos);   // the query is not in the corpus
      if (p["_id"] == article_id + "-0") {
        found = true;
        CHECK(std::string(p["text"]).starts_with(sentence(a, 1)));
        CHECK(p["title"] == "Заглавие " + std::to_string(a));
      }
    }
    CHECK(found);
    CHECK(read_file(dir / "beir/qrels/test.tsv").find(id + "\t" + article_id + "-0\t1\n") != std::string::npos);
  }
  CHECK(read_file(dir / "beir/qrels/test.tsv").starts_with("query-id\tcorpus-id\tscore\n"));
  auto ids = read_file(dir / "beir/article_ids.txt");
  for (const char* id : {"101\n", "102\n", "103\n"}) CHECK(ids.find(id) != std::string::npos);
}

TEST_CASE("the set is deterministic: the same files whatever the order of the input") {
  TempDir dir;
  std::vector<text::Article> articles;
  for (int a = 0; a < 40; ++a) articles.push_back(article(a, 2));
  write_articles(dir / "forward.jsonl", articles);
  std::reverse(articles.begin(), articles.end());
  write_articles(dir / "backward.jsonl", articles);
  RetrievalSetOptions options;
  options.max_articles = 10;
  make_retrieval_set(dir / "forward.jsonl", dir / "a", options);
  make_retrieval_set(dir / "backward.jsonl", dir / "b", options);
  for (const char* file : {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "article_ids.txt"})
    CHECK_MESSAGE(read_file(dir / "a" / file) == read_file(dir / "b" / file), file);
  CHECK(read_jsonl(dir / "a/queries.jsonl").size() == 10);
}

TEST_CASE("no usable articles, or bad limits, are errors") {
  TempDir dir;
  write_articles(dir / "short.jsonl", {{"1", "А", "Две."}});
  CHECK_THROWS_WITH_AS(make_retrieval_set(dir / "short.jsonl", dir / "x"), doctest::Contains("no article has a lead"), Error);
  write_articles(dir / "none.jsonl", {});
  CHECK_THROWS_WITH_AS(make_retrieval_set(dir / "none.jsonl", dir / "x"), doctest::Contains("no articles"), Error);
  RetrievalSetOptions bad;
  bad.min_words = 300;
  CHECK_THROWS_AS(make_retrieval_set(dir / "short.jsonl", dir / "x", bad), Error);
  CHECK_FALSE(fs::exists(dir / "x/corpus.jsonl"));
}

TEST_CASE("the command line: from the real dump excerpt to a retrieval set") {
  TempDir dir;
  const std::string cli = BG2VEC_CLI;
  REQUIRE(!cli.empty());
  const std::string dump = (fs::path(BG2VEC_REPO_DATA) / "bgwiki/bgwiki-excerpt-pages-articles.xml.bz2").string();
  REQUIRE(std::system((cli + " wiki extract -q --dump " + dump + " --out " + (dir / "a.jsonl").string() + " >/dev/null").c_str()) == 0);
  REQUIRE(std::system((cli + " data make-retrieval --articles " + (dir / "a.jsonl").string() + " --out " +
                       (dir / "beir").string() + " >/dev/null").c_str()) == 0);
  const auto queries = read_jsonl(dir / "beir/queries.jsonl");
  REQUIRE(queries.size() == 1);
  CHECK(std::string(queries[0]["text"]).starts_with("Григорианският календар (понякога наричан"));
  CHECK(read_file(dir / "beir/qrels/test.tsv") == "query-id\tcorpus-id\tscore\nq558\t558-0\t1\n");
  CHECK(read_file(dir / "beir/article_ids.txt") == "558\n");
  for (const auto& p : read_jsonl(dir / "beir/corpus.jsonl")) CHECK(word_count(std::string(p["text"])) <= 200);
}

}  // namespace test_retrieval_set
