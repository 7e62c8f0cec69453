// The `bg2vec encode` and `bg2vec inspect` contracts, run as a user would run them.
#include <bg2vec/io/safetensors.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "support.hpp"

using namespace bg2vec;

namespace {

struct Run {
  int status;
  std::string output;                  // stdout and stderr together
};

Run run(const std::string& arguments, const test::TempDir& dir) {
  const auto log = dir / "output.txt";
  const int raw = std::system((std::string(BG2VEC_CLI) + " " + arguments + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  return {WEXITSTATUS(raw), std::string((std::istreambuf_iterator<char>(in)), {})};
}

const std::string kModel = test::fixture("hf/mistral-dev").string();
const std::string kBatch = test::fixture("hf/mistral-dev/reference.safetensors").string();

}  // namespace

TEST_CASE("encode --ids writes the embeddings and logits that transformers computes") {
  test::TempDir dir("cli-encode");
  const io::SafetensorsFile reference(kBatch);
  struct Case { const char* attention; const char* pooling; const char* expected; };
  for (const Case& c : {Case{"bidirectional", "mean", "bidir_mean_pool"}, Case{"causal", "mean", "causal_mean_pool"},
                        Case{"causal", "last", "causal_last_token_pool"}}) {
    CAPTURE(c.attention);
    CAPTURE(c.pooling);
    const auto out = (dir / "e.safetensors").string();
    const Run r = run("encode --model " + kModel + " --ids " + kBatch + " --attention " + c.attention + " --pooling " +
                          c.pooling + " --out " + out + " --logits --batch-size 2",
                      dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const io::SafetensorsFile result(out);
    CHECK(result.info("embeddings").shape == Shape{3, 64});
    CHECK(result.info("logits").shape == Shape{3, 16, 384});
    CHECK(test::relative_error(result.read_float32("embeddings"), reference.read_float32(c.expected)) < 1e-4);
    const std::string logits = std::string(c.attention) == "causal" ? "causal_logits" : "bidir_logits";
    CHECK(test::relative_error(result.read_float32("logits"), reference.read_float32(logits)) < 1e-4);
  }
}

TEST_CASE("encode refuses bad arguments with one clear line and a non-zero exit") {
  test::TempDir dir("cli-encode-bad");
  const std::string out = (dir / "e.safetensors").string();
  auto check_fails = [&](const std::string& arguments, const std::string& message) {
    CAPTURE(arguments);
    const Run r = run(arguments, dir);
    CHECK(r.status != 0);
    CHECK(r.output.find(message) != std::string::npos);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(out));
  };
  check_fails("encode --model " + kModel + " --ids " + kBatch + " --out " + out + " --frobnicate", "unrecognised option '--frobnicate'");
  check_fails("encode --model " + kModel + " --ids " + kBatch + " --out " + out + " --attention sideways", "unknown attention 'sideways'");
  check_fails("encode --model " + kModel + " --ids " + kBatch + " --out " + out + " --pooling max", "unknown pooling 'max'");
  check_fails("encode --model " + kModel + " --out " + out, "give exactly one of --ids, --text-file, --jsonl");
  check_fails("encode --model " + kModel + " --ids " + (dir / "missing.safetensors").string() + " --out " + out,
              "missing.safetensors: cannot open");
  check_fails("encode --ids " + kBatch + " --out " + out, "the option '--model' is required");
  check_fails("encode --model " + dir.path.string() + " --ids " + kBatch + " --out " + out, "config.json: cannot open");
  check_fails("frobnicate", "unknown command 'frobnicate'");
}

TEST_CASE("every command answers --help") {
  test::TempDir dir("cli-help");
  for (const char* command : {"encode", "inspect"}) {
    CAPTURE(command);
    const Run r = run(std::string(command) + " --help", dir);
    CHECK(r.status == 0);
    CHECK(r.output.find("usage: bg2vec " + std::string(command)) == 0);
  }
}

TEST_CASE("inspect describes the model folder") {
  test::TempDir dir("cli-inspect");
  const Run r = run("inspect --model " + kModel, dir);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("MistralForCausalLM") != std::string::npos);
  CHECK(r.output.find("parameters       135488") != std::string::npos);
  CHECK(r.output.find("4 heads, 2 kv heads") != std::string::npos);
  CHECK(r.output.find("F32: 135488") != std::string::npos);
}
