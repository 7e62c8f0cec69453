// Extraction speed and memory: builds a large dump from the pages of the shipped bgwiki excerpt
// (in a temporary folder, removed afterwards), plain and bz2-compressed, and extracts both.
// Prints MB/s of uncompressed XML and the peak RSS of the process (getrusage).
//   bench_wiki [--mb 256] [--bz2-mb 64]
#include <bg2vec/text/extract.hpp>

#include <boost/program_options.hpp>
#include <bzlib.h>
#include <cstdio>
#include <iostream>
#include <sys/resource.h>

namespace fs = std::filesystem;
using namespace bg2vec::text;

static std::string read_all(const fs::path& path) {
  DumpSource source(path);
  std::string xml, chunk(1 << 20, '\0');
  while (size_t n = source.read(chunk.data(), chunk.size())) xml.append(chunk, 0, n);
  return xml;
}

// A page in the style of a heavily templated article (infobox, table, references, files, categories),
// as XML-escaped wikitext: the excerpt's article alone is lighter on markup than many real ones.
static const char* const templated_page = R"(  <page>
    <title>Примерен град</title>
    <ns>0</ns>
    <id>77</id>
    <revision><id>1</id><text xml:space="preserve">{{Инфокутия Селище
| име = Примерен град | държава = {{BUL}} | население = {{formatnum:123456}}
| карта = [[Файл:Map.svg|200px|{{lang|en|Map}}]] }}
'''Примерен град''' е [[град]] в [[България|Република България]].&lt;ref name="nsi"&gt;{{cite web|url=http://nsi.bg|title=НСИ}}&lt;/ref&gt; Населението му е около 123&amp;nbsp;000 души.&lt;ref&gt;Преброяване 2011.&lt;/ref&gt;

== История ==
Първото споменаване е от {{век|XIV}} в. В ''Средновековието'' градът е [[крепост]]&lt;!-- проверка --&gt;.
{| class="wikitable"
! Година !! Население
|-
| 1934 || {{formatnum:20000}}
|-
| 2011 || 123&amp;nbsp;456
|}
* [http://example.bg Официален сайт]
{{Портал|България}}
[[Категория:Градове в България]]
[[en:Example town]]</text></revision>
  </page>
)";

// The excerpt's articles (ns 0: real dumps are mostly articles) and a heavily templated page, repeated
// with fresh ids until the dump holds about `mb` megabytes.
static void write_dump(const std::string& excerpt, const fs::path& path, size_t mb, bool compress) {
  const std::string head = excerpt.substr(0, excerpt.find("  <page>"));
  std::string pages = templated_page;
  for (size_t at = excerpt.find("  <page>"); at != std::string::npos; at = excerpt.find("  <page>", at + 1)) {
    const std::string page = excerpt.substr(at, excerpt.find("</page>", at) + 8 - at);
    if (page.find("<ns>0</ns>") != std::string::npos) pages += page;
  }
  FILE* file = std::fopen(path.c_str(), "wb");
  int bz_error = BZ_OK;
  BZFILE* bz = compress ? BZ2_bzWriteOpen(&bz_error, file, 1, 0, 0) : nullptr;
  auto write = [&](const std::string& s) {
    if (bz) BZ2_bzWrite(&bz_error, bz, const_cast<char*>(s.data()), int(s.size()));
    else std::fwrite(s.data(), 1, s.size(), file);
  };
  write(head);
  size_t written = head.size();
  for (int copy = 0; written < mb * 1000000; ++copy) {
    std::string block = pages;
    for (size_t at = block.find("<id>"); at != std::string::npos; at = block.find("<id>", at + 4))
      block.insert(at + 4, std::to_string(copy));       // distinct ids per copy
    write(block);
    written += block.size();
  }
  write("</mediawiki>\n");
  if (bz) BZ2_bzWriteClose(&bz_error, bz, 0, nullptr, nullptr);
  std::fclose(file);
}

static double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// CPU seconds of the process (all threads): on a busy machine wall-clock MB/s says little, and
// MB per CPU-second is a floor for the wall-clock speed on an idle one.
static double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

static void measure(const char* label, const fs::path& dump, const fs::path& out) {
  ExtractOptions options;
  options.progress = false;
  const double cpu_before = cpu_seconds();
  const ExtractStats s = extract_articles(dump, out, options);
  const double cpu = cpu_seconds() - cpu_before, mb = double(s.xml_bytes) / 1e6;
  std::printf("%-5s %6.1f MB XML (%5.1f MB on disk) %6llu articles: %5.2f s wall = %6.1f MB/s; %5.2f CPU-s = "
              "%6.1f MB/CPU-s; peak RSS %.0f MB\n",
              label, mb, double(fs::file_size(dump)) / 1e6, (unsigned long long)s.articles, s.seconds, mb / s.seconds,
              cpu, mb / cpu, peak_rss_mb());
}

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  size_t mb = 256, bz2_mb = 64;
  po::options_description options("bench_wiki");
  options.add_options()("mb", po::value(&mb), "size of the plain XML dump (MB)")
                       ("bz2-mb", po::value(&bz2_mb), "uncompressed size of the bz2 dump (MB)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);

  const fs::path dir = fs::temp_directory_path() / ("bg2vec-bench-wiki-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string excerpt = read_all(fs::path(BG2VEC_REPO_DATA) / "bgwiki/bgwiki-excerpt-pages-articles.xml.bz2");
  write_dump(excerpt, dir / "dump.xml", mb, false);
  write_dump(excerpt, dir / "dump.xml.bz2", bz2_mb, true);
  std::printf("peak RSS before extraction %.0f MB\n", peak_rss_mb());
  measure("plain", dir / "dump.xml", dir / "plain.jsonl");
  measure("bz2", dir / "dump.xml.bz2", dir / "bz2.jsonl");
  fs::remove_all(dir);
}
