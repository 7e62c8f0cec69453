// Reading dumps: the real bgwiki excerpt, plain and bz2 (multistream too), and damaged input, which
// must fail with the file and the position, leaving no half-written articles file behind.
#include <bg2vec/text/extract.hpp>

#include <bzlib.h>
#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace test_wiki_dump {

namespace fs = std::filesystem;
using namespace bg2vec::text;

namespace {

const fs::path excerpt = fs::path(BG2VEC_REPO_DATA) / "bgwiki/bgwiki-excerpt-pages-articles.xml.bz2";

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("bg2vec-test-wiki-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::string bz2(const std::string& data) {
  std::string out(data.size() + data.size() / 100 + 600, '\0');
  unsigned size = unsigned(out.size());
  REQUIRE(BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(data.data()), unsigned(data.size()),
                                   9, 0, 0) == BZ_OK);
  out.resize(size);
  return out;
}

std::string page(const std::string& id, const std::string& title, int ns, const std::string& text,
                 bool redirect = false) {
  return "<page><title>" + title + "</title><ns>" + std::to_string(ns) + "</ns><id>" + id + "</id>" +
         (redirect ? "<redirect title=\"X\" />" : "") + "<revision><id>9" + id + "</id><text xml:space=\"preserve\">" +
         text + "</text></revision></page>\n";
}

const std::string head = "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\">\n<siteinfo/>\n";

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string error_of(const fs::path& dump, const fs::path& out, ExtractOptions options = {}) {
  options.progress = false;
  try {
    extract_articles(dump, out, options);
  } catch (const bg2vec::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the real bgwiki excerpt: the one main-namespace article, its id, title and clean text") {
  TempDir dir;
  ExtractOptions quiet;
  quiet.progress = false;
  const ExtractStats stats = extract_articles(excerpt, dir / "articles.jsonl", quiet);
  CHECK(stats.pages == 3);
  CHECK(stats.other_namespaces == 2);
  CHECK(stats.articles == 1);
  CHECK(stats.xml_bytes == 397120);
  ArticleReader reader(dir / "articles.jsonl");
  Article a;
  REQUIRE(reader.next(a));
  CHECK(a.id == "558");
  CHECK(a.title == "Григориански календар");
  CHECK(a.text.starts_with("Григорианският календар (понякога наричан и Грегориански календар, „нов стил“) е "
                           "съвременният международно признат светски календар"));
  CHECK(a.text.find("Описание\n") != std::string::npos);                     // a heading line
  CHECK(a.text.find("„AD“ (Anno Domini = Лето Господне)") != std::string::npos);
  for (const char* markup : {"{{", "}}", "[[", "]]", "<ref", "&lt;", "&nbsp;", "'''", "Категория:", "{|"})
    CHECK_MESSAGE(a.text.find(markup) == std::string::npos, markup);
  CHECK_FALSE(reader.next(a));
}

TEST_CASE("plain XML: namespaces and redirects are filtered, entities in the XML decoded once") {
  TempDir dir;
  write_file(dir / "dump.xml", head + page("1", "Статия", 0, "'''Текст''' &amp;amp; [[връзка]].") +
                                   page("2", "Пренасочване", 0, "#ПРЕНАСОЧВАНЕ [[Статия]]", true) +
                                   page("3", "Беседа:Статия", 1, "беседа") + "</mediawiki>\n");
  const ExtractStats stats = extract_articles(dir / "dump.xml", dir / "a.jsonl", {false, false});
  CHECK(stats.redirects == 1);
  CHECK(stats.other_namespaces == 1);
  CHECK(lines_of(dir / "a.jsonl") ==
        std::vector<std::string>{R"({"id":"1","title":"Статия","text":"Текст & връзка."})"});
}

TEST_CASE("a multistream bz2 dump (concatenated streams) is read as one") {
  TempDir dir;
  const std::string xml = head + page("1", "А", 0, "Първа.") + page("2", "Б", 0, "Втора.") + "</mediawiki>\n";
  const size_t cut = xml.find("<page>", xml.find("Първа"));
  write_file(dir / "multi.xml.bz2", bz2(xml.substr(0, cut)) + bz2(xml.substr(cut)));
  const ExtractStats stats = extract_articles(dir / "multi.xml.bz2", dir / "a.jsonl", {false, false});
  CHECK(stats.articles == 2);
  CHECK(lines_of(dir / "a.jsonl").size() == 2);
}

TEST_CASE("bad input fails with the file name and the position, and leaves no articles file") {
  TempDir dir;
  const fs::path out = dir / "a.jsonl";

  SUBCASE("malformed XML") {
    write_file(dir / "bad.xml", head + page("1", "А", 0, "Добре.") + "<page><title>Б</titel></page></mediawiki>");
    const std::string error = error_of(dir / "bad.xml", out);
    CHECK(error.find("bad.xml") != std::string::npos);
    CHECK(error.find("line 4, column") != std::string::npos);
    CHECK(error.find("mismatched tag") != std::string::npos);
  }
  SUBCASE("invalid UTF-8") {
    write_file(dir / "bad.xml", head + page("1", "А", 0, "текст \xC3\x28 тук") + "</mediawiki>");
    const std::string error = error_of(dir / "bad.xml", out);
    CHECK(error.find("bad.xml: XML error at line 3") != std::string::npos);
    CHECK(error.find("invalid UTF-8") != std::string::npos);
  }
  SUBCASE("an empty dump") {
    write_file(dir / "empty.xml", "");
    CHECK(error_of(dir / "empty.xml", out).find("empty.xml: empty dump") != std::string::npos);
  }
  SUBCASE("a dump whose XML stops early") {
    write_file(dir / "short.xml", head + page("1", "А", 0, "Добре."));
    CHECK(error_of(dir / "short.xml", out).find("no element found") != std::string::npos);
  }
  SUBCASE("a truncated bz2 stream") {
    const std::string whole = read_file(excerpt);
    write_file(dir / "cut.xml.bz2", whole.substr(0, whole.size() / 2));
    const std::string error = error_of(dir / "cut.xml.bz2", out);
    CHECK(error.find("cut.xml.bz2: truncated bz2 stream") != std::string::npos);
  }
  SUBCASE("corrupt bz2 data") {
    std::string data = read_file(excerpt);
    for (size_t i = 1000; i < 1100; ++i) data[i] = char(data[i] ^ 0x5A);
    write_file(dir / "corrupt.xml.bz2", data);
    CHECK(error_of(dir / "corrupt.xml.bz2", out).find("corrupt bz2 data near compressed byte offset") !=
          std::string::npos);
  }
  SUBCASE("a missing file") {
    CHECK(error_of(dir / "missing.xml", out).find("missing.xml: cannot open") != std::string::npos);
  }
  SUBCASE("regression (bad-input table): XML that is not a MediaWiki dump") {   // passed for an empty dump before
    write_file(dir / "page.html", "<html><body><page><title>X</title></page></body></html>");
    CHECK(error_of(dir / "page.html", out) == (dir / "page.html").string() +
                                                  ": not a MediaWiki dump: the root element is <html>, not <mediawiki>");
  }
  CHECK_FALSE(fs::exists(out));
  for (const auto& entry : fs::directory_iterator(dir.path))   // nor a temporary file
    CHECK(entry.path().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("with keep_partial, a damaged dump keeps the complete articles read before the damage") {
  TempDir dir;
  write_file(dir / "bad.xml", head + page("1", "А", 0, "Първа.") + page("2", "Б", 0, "Втора.") + "<page><oops");
  ExtractOptions options;
  options.keep_partial = true;
  CHECK(error_of(dir / "bad.xml", dir / "a.jsonl", options).find("bad.xml: XML error") != std::string::npos);
  const auto lines = lines_of(dir / "a.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(read_file(dir / "a.jsonl").back() == '\n');
  CHECK(lines[1] == R"({"id":"2","title":"Б","text":"Втора."})");
}

TEST_CASE("the command line: bg2vec wiki extract") {
  TempDir dir;
  const std::string cli = BG2VEC_CLI;
  REQUIRE(!cli.empty());
  const fs::path out = dir / "articles.jsonl";
  CHECK(std::system((cli + " wiki extract -q --dump " + excerpt.string() + " --out " + out.string() +
                     " > " + (dir / "log").string()).c_str()) == 0);
  CHECK(lines_of(out).size() == 1);
  CHECK(read_file(dir / "log").find("1 articles written") != std::string::npos);
  CHECK(std::system((cli + " wiki extract --dump " + (dir / "none.xml").string() + " --out " +
                     (dir / "x.jsonl").string() + " 2> " + (dir / "err").string()).c_str()) != 0);
  CHECK(read_file(dir / "err").find("none.xml: cannot open for reading") != std::string::npos);
}

}  // namespace test_wiki_dump
