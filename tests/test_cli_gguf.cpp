// The GGUF side of the command line, run as a user would run it: `gguf import` writes the HF folder the
// GGUF came from, every `--model` takes a .gguf file directly (encode, inspect, eval perplexity,
// generate), and a damaged file is refused with exit code 1, the file and the problem named, nothing written.
#include <bg2vec/nn/encoder.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "support.hpp"

namespace test_cli_gguf {

using namespace bg2vec;

namespace {

const std::string kGemma3 = test::fixture("gguf/gemma3-dev-f32.gguf").string();
const std::string kMistral = test::fixture("gguf/mistral-dev-f32.gguf").string();

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> bulgarian_lines(size_t count) {
  std::ifstream in(test::fixture("gguf/README.md"));   // any text would do; the tokenizers are Bulgarian BPE
  std::vector<std::string> lines = {"София е столицата на България.", "Столицата на България е София.",
                                    "  Пловдив  е  вторият по големина град. ", "Ѣ и ѫ са стари букви."};
  for (std::string line; lines.size() < count && std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("gguf import writes the HF folder that the GGUF came from") {
  test::TempDir dir("cli-gguf-import");
  struct Case { const std::string gguf; const char* hf; const char* architecture; const char* tokenizer; };
  for (const Case& c : {Case{kGemma3, "hf/gemma3-dev", "Gemma3ForCausalLM", "gguf/tokenizers/gemma3-dev.model"},
                        Case{kMistral, "hf/mistral-dev", "LlamaForCausalLM", "gguf/tokenizers/mistral-dev.model"}}) {
    CAPTURE(c.gguf);
    const auto out = dir / std::filesystem::path(c.gguf).stem().string();
    const test::CliRun r = test::run_cli("gguf import --gguf " + c.gguf + " --out " + out.string(), dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    for (const char* file : {"config.json", "model.safetensors", "tokenizer.model"}) CHECK(std::filesystem::exists(out / file));
    const Model imported = load_model(out), hf = load_model(test::fixture(c.hf));
    CHECK(imported.config().architecture == c.architecture);
    for (const auto& p : hf.layout().tensors())
      CHECK(test::relative_error(imported.parameter(p.name), hf.parameter(p.name)) < 1e-6);
    // the rebuilt tokenizer gives the ids of the sentencepiece model the GGUF was made from
    const text::Tokenizer ours(out / "tokenizer.model"), original(test::fixture(c.tokenizer));
    for (const auto& line : bulgarian_lines(40)) CHECK(ours.encode(line) == original.encode(line));
  }
}

TEST_CASE("gguf import --dtype bf16 stores bf16 weights and says so in config.json") {
  test::TempDir dir("cli-gguf-import-bf16");
  const auto out = dir / "bf16";
  const test::CliRun r = test::run_cli("gguf import --gguf " + kGemma3 + " --out " + out.string() + " --dtype bf16", dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const io::SafetensorsFile weights(out / "model.safetensors");
  for (const auto& [name, info] : weights.tensors()) CHECK(info.dtype == DType::BF16);
  std::ifstream in(out / "config.json");
  CHECK(nlohmann::json::parse(in)["torch_dtype"] == "bfloat16");
  const Model imported = load_model(out), gguf = load_model(kGemma3);
  for (const auto& p : gguf.layout().tensors()) {
    const auto a = imported.parameter(p.name), b = gguf.parameter(p.name);
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == bf16_to_f32(f32_to_bf16(b[i])));
  }
}

TEST_CASE("gguf import refuses to overwrite, and a damaged file writes nothing") {
  test::TempDir dir("cli-gguf-import-refusals");
  SUBCASE("an --out folder that holds something") {
    std::filesystem::create_directories(dir / "taken");
    std::ofstream(dir / "taken" / "mine.txt") << "a user's file";
    const test::CliRun r = test::run_cli("gguf import --gguf " + kGemma3 + " --out " + (dir / "taken").string(), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "already exists and is not an empty folder"));
    CHECK(std::filesystem::exists(dir / "taken" / "mine.txt"));
  }
  SUBCASE("a truncated GGUF") {
    std::ifstream in(kGemma3, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const auto cut = dir / "cut.gguf";
    std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
    const test::CliRun r = test::run_cli("gguf import --gguf " + cut.string() + " --out " + (dir / "out").string(), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.output, "bg2vec gguf import: error: " + cut.string() + ":"));
    CHECK(!std::filesystem::exists(dir / "out"));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path))   // no temporary left behind
      CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("encode --model takes a GGUF file: transformers' embeddings, and the tokenizer rebuilt from it") {
  test::TempDir dir("cli-gguf-encode");
  const std::string reference = test::fixture("hf/gemma3-dev/reference.safetensors").string();
  const auto out = (dir / "e.safetensors").string();
  test::CliRun r = test::run_cli("encode --model " + kGemma3 + " --ids " + reference + " --attention bidirectional --pooling mean --out " + out, dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(test::relative_error(io::SafetensorsFile(out).read_float32("embeddings"),
                             io::SafetensorsFile(reference).read_float32("bidir_mean_pool")) < 1e-4);

  // texts: the same embeddings from the GGUF and from the folder that gguf import makes of it
  {
    std::ofstream texts(dir / "texts.txt");
    for (const auto& line : bulgarian_lines(12)) texts << line << "\n";
  }
  r = test::run_cli("gguf import --gguf " + kMistral + " --out " + (dir / "imported").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto from_gguf = (dir / "gguf.safetensors").string(), from_folder = (dir / "folder.safetensors").string();
  for (const auto& [model, file] : {std::pair{kMistral, from_gguf}, std::pair{(dir / "imported").string(), from_folder}}) {
    r = test::run_cli("encode --model " + model + " --text-file " + (dir / "texts.txt").string() + " --pooling mean --out " + file, dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
  }
  const auto a = io::SafetensorsFile(from_gguf).read_float32("embeddings"), b = io::SafetensorsFile(from_folder).read_float32("embeddings");
  CHECK(a.size() == 12 * 64);
  CHECK(a == b);
}

TEST_CASE("inspect describes a GGUF file: format, architecture and quantization types") {
  test::TempDir dir("cli-gguf-inspect");
  const test::CliRun r = test::run_cli("inspect --model " + test::fixture("gguf/gemma3-dev-q8_0.gguf").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "format           GGUF v3 (41 tensors)"));
  CHECK(contains(r.output, "Gemma3ForCausalLM"));
  CHECK(contains(r.output, "sliding window   6 (causal attention, 2 of 3 layers)"));
  CHECK(contains(r.output, "Q8_0: "));
  CHECK(contains(r.output, "F32: "));
}

TEST_CASE("eval perplexity --ids gives the NTP loss that transformers computes") {
  test::TempDir dir("cli-gguf-perplexity");
  // mistral-dev has no sliding window, so the causal mask is the one of the reference's ntp loss
  const std::string reference = test::fixture("hf/mistral-dev/reference.safetensors").string();
  const auto json = dir / "ppl.json";
  const test::CliRun r = test::run_cli("eval perplexity --model " + kMistral + " --ids " + reference + " --json " + json.string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  std::ifstream in(test::fixture("hf/mistral-dev/reference.json"));
  const double expected = nlohmann::json::parse(in)["ntp_grad_loss"];
  std::ifstream result(json);
  const auto j = nlohmann::json::parse(result);
  CHECK(j["nll"].get<double>() == doctest::Approx(expected).epsilon(1e-5));
  CHECK(j["perplexity"].get<double>() == doctest::Approx(std::exp(expected)).epsilon(1e-5));
}

TEST_CASE("generate continues prompts greedily, and bad input is refused") {
  test::TempDir dir("cli-gguf-generate");
  test::CliRun r = test::run_cli("generate --model " + kGemma3 + " --prompt 'София е' --prompt 'Столицата' --tokens 4", dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "София е|"));
  CHECK(contains(r.output, "Столицата|"));
  r = test::run_cli("generate --model " + (dir / "missing.gguf").string() + " --prompt x", dir);
  CHECK(r.status == 1);
  CHECK(contains(r.output, "missing.gguf: no such model"));
  r = test::run_cli("generate --model " + kGemma3 + " --prompt x --tokens 0", dir);
  CHECK(r.status == 1);
}

// The embedded default model (scripts/setup_model.sh installs it; skipped where it is not installed). A
// wrong dequantization or rotary layout would leave it a random model: perplexity in the tens of thousands.
TEST_CASE("the real Gemma-3-270M GGUF is a Bulgarian language model") {
  const auto model = std::filesystem::path(BG2VEC_REPO_DATA) / "../models/gemma3-270m/gemma-3-270m-q4_k_m.gguf";
  if (!std::filesystem::exists(model)) {
    MESSAGE("skipped: " << model << " is not installed (bash scripts/setup_model.sh)");
    return;
  }
  if (test::skip_real_model()) {
    MESSAGE("skipped: BG2VEC_TEST_SKIP_REAL_MODEL is set");
    return;
  }
  test::TempDir dir("cli-gguf-real");
  {   // 40 sentences of the shipped Bulgarian Wikipedia text, none of them a fragment
    std::ofstream texts(dir / "bg.txt");
    const std::string command = "bzcat " + (std::filesystem::path(BG2VEC_REPO_DATA) / "corpus/wikiann-bg.sentences.txt.bz2").string() +
                                " | awk 'length($0) > 80' | head -40 > " + (dir / "bg.txt").string();
    REQUIRE(std::system(command.c_str()) == 0);
  }
  test::CliRun r = test::run_cli("eval perplexity --model " + model.string() + " --text-file " + (dir / "bg.txt").string() + " --json " +
                  (dir / "ppl.json").string(),
              dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  std::ifstream in(dir / "ppl.json");
  const auto j = nlohmann::json::parse(in);
  MESSAGE("Gemma-3-270M perplexity on 40 Bulgarian sentences: " << j["perplexity"].get<double>());
  CHECK(j["texts"] == 40);
  CHECK(j["perplexity"].get<double>() < 150);
  r = test::run_cli("generate --model " + model.string() + " --prompt 'Столицата на България е' --tokens 6", dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const std::string continuation = r.output.substr(r.output.find('|') + 1);
  MESSAGE("greedy continuation: " << continuation);
  CHECK(continuation.find("\xD0") != std::string::npos);   // Cyrillic (U+0400..U+043F lead byte)
}

}  // namespace test_cli_gguf
