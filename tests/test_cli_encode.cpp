// The `bg2vec encode` and `bg2vec inspect` contracts, run as a user would run them.
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/nn/memory_estimate.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support.hpp"

namespace test_cli_encode {

using namespace bg2vec;

namespace {

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
    const test::CliRun r = test::run_cli("encode --model " + kModel + " --ids " + kBatch + " --attention " + c.attention + " --pooling " +
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

// Bidirectional only for the embeddings: the causal_* references have no sliding window, while
// `--attention causal` honours Gemma's window, as transformers' default mask does (default_logits,
// rows 0-1; row 2's pad queries see no key in the window, see test_forward_parity).
TEST_CASE_TEMPLATE("encode --ids on a Gemma folder writes what transformers computes", F, test::Gemma2Dev, test::Gemma3Dev) {
  test::TempDir dir(std::string("cli-encode-") + F::name);
  const std::string model = test::fixture(std::string("hf/") + F::name).string(), batch = model + "/reference.safetensors";
  const io::SafetensorsFile reference(batch);
  const auto out = (dir / "e.safetensors").string();
  test::CliRun r = test::run_cli("encode --model " + model + " --ids " + batch + " --attention bidirectional --pooling mean --logits --out " + out, dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  {
    const io::SafetensorsFile result(out);
    CHECK(test::relative_error(result.read_float32("embeddings"), reference.read_float32("bidir_mean_pool")) < 1e-4);
    CHECK(test::relative_error(result.read_float32("logits"), reference.read_float32("bidir_logits")) < 1e-4);
  }
  r = test::run_cli("encode --model " + model + " --ids " + batch + " --attention causal --pooling last --logits --out " + out, dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const io::SafetensorsFile result(out);
  const auto rows_0_1 = [](std::span<const float> t) { return t.first(t.size() / 3 * 2); };
  CHECK(test::relative_error(rows_0_1(result.read_float32("logits")), rows_0_1(reference.read_float32("default_logits"))) < 1e-4);
}

TEST_CASE("encode refuses bad arguments with one clear line and a non-zero exit") {
  test::TempDir dir("cli-encode-bad");
  const std::string out = (dir / "e.safetensors").string();
  auto check_fails = [&](const std::string& arguments, const std::string& message) {
    CAPTURE(arguments);
    const test::CliRun r = test::run_cli(arguments, dir);
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
    const test::CliRun r = test::run_cli(std::string(command) + " --help", dir);
    CHECK(r.status == 0);
    CHECK(r.output.find("usage: bg2vec " + std::string(command)) == 0);
  }
}

TEST_CASE("inspect describes the model folder") {
  test::TempDir dir("cli-inspect");
  const test::CliRun r = test::run_cli("inspect --model " + kModel, dir);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("MistralForCausalLM") != std::string::npos);
  CHECK(r.output.find("parameters       135488") != std::string::npos);
  CHECK(r.output.find("4 heads, 2 kv heads") != std::string::npos);
  CHECK(r.output.find("F32: 135488") != std::string::npos);
}

TEST_CASE("inspect describes a Gemma-2 folder") {
  test::TempDir dir("cli-inspect-gemma2");
  const test::CliRun r = test::run_cli("inspect --model " + test::fixture("hf/gemma2-dev").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("Gemma2ForCausalLM") != std::string::npos);
  CHECK(r.output.find("parameters       98880") != std::string::npos);
  CHECK(r.output.find("128 (GeGLU, gelu tanh)") != std::string::npos);
  CHECK(r.output.find("sliding window   8 (causal attention, 1 of 2 layers)") != std::string::npos);
  CHECK(r.output.find("soft-caps: attention 50, logits 30") != std::string::npos);
  CHECK(r.output.find("tied to lm_head") != std::string::npos);
}

TEST_CASE("inspect describes a Gemma-3 folder: q/k norms, both rotary bases, the window on 2 of 3 layers, no soft-caps") {
  test::TempDir dir("cli-inspect-gemma3");
  const test::CliRun r = test::run_cli("inspect --model " + test::fixture("hf/gemma3-dev").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("Gemma3ForCausalLM") != std::string::npos);
  CHECK(r.output.find("parameters       129952") != std::string::npos);
  CHECK(r.output.find("4 heads, 1 kv heads: GQA 4:1") != std::string::npos);
  CHECK(r.output.find("128 (GeGLU, gelu tanh)") != std::string::npos);
  CHECK(r.output.find("rope_theta       1e+06 (full-attention layers), 10000 (sliding layers)") != std::string::npos);
  CHECK(r.output.find("sliding window   6 (causal attention, 2 of 3 layers)") != std::string::npos);
  CHECK(r.output.find("gemma-3          embeddings x 8, norms x (1 + w) also on attention/MLP outputs and on each head of q and k") !=
        std::string::npos);
  CHECK(r.output.find("soft-caps: attention none, logits none") != std::string::npos);
  CHECK(r.output.find("tied to lm_head") != std::string::npos);
}

namespace {

// The bytes of inspect's memory line that starts with `what` ("  encode    1234 B (...)").
double memory_line(const std::string& output, const std::string& what) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  " + what, 0) != 0) continue;
    const std::string rest = line.substr(2 + what.size());
    const size_t digits = rest.find_first_of("0123456789");
    REQUIRE_MESSAGE(digits != std::string::npos, line);
    return std::stod(rest.substr(digits));
  }
  FAIL("no line '  " << what << "' in:\n" << output);
  return 0;
}

}  // namespace

TEST_CASE("inspect estimates the memory of encoding and of a step for the chosen compute type") {
  test::TempDir dir("cli-inspect-memory");
  const std::string shape = " --batch 4 --seq-len 64";
  const test::CliRun f32 = test::run_cli("inspect --model " + kModel + shape + " --compute f32", dir);
  const test::CliRun bf16 = test::run_cli("inspect --model " + kModel + shape + " --compute bf16", dir);
  REQUIRE_MESSAGE(f32.status == 0, f32.output);
  REQUIRE_MESSAGE(bf16.status == 0, bf16.output);   // an estimate for bf16 needs no AVX512-BF16
  CHECK(f32.output.find("memory estimate  f32 (float32 weights), batch 4 x 64") != std::string::npos);
  CHECK(bf16.output.find("memory estimate  bf16 (encode: the seven projections as bf16 copies only; training: float32 master "
                         "weights + bf16 packed copies") != std::string::npos);
  const io::ModelConfig c = io::load_config(kModel);
  for (const test::CliRun* r : {&f32, &bf16}) {
    const double encode = memory_line(r->output, "encode"), full = memory_line(r->output, "MNTP step, full"),
                 lora = memory_line(r->output, "MNTP step, LoRA r16"), ram = memory_line(r->output, "RAM of this machine");
    if (r == &f32) CHECK(encode >= 4.0 * double(ParameterLayout(c).total()));   // at least the float32 weights
    CHECK(full > encode);
    CHECK(lora > encode);
    CHECK(lora < full);
    CHECK(ram > full);
    CHECK(r->output.find("encode fits, full step fits, LoRA step fits") != std::string::npos);
  }
  // bf16 encoding swaps the float32 projections for their packed bf16 copies (and adds the kernel's bf16 copy of
  // its input and the attention's bf16 operands).
  double projection_floats = 0;
  for (const auto& [in, out] : memory::projection_shapes(c)) projection_floats += double(in) * double(out) * c.num_layers;
  CHECK(memory_line(bf16.output, "encode") - memory_line(f32.output, "encode") ==
        doctest::Approx(memory::packed_projection_bytes(c, backend::Compute::Bf16, false) +
                        memory::gemm_scratch_bytes(c, backend::Compute::Bf16, 4, 64, false) +
                        memory::attention_operand_bytes(c, backend::Compute::Bf16, 4, 64, false) - 4 * projection_floats));
  CHECK(memory_line(bf16.output, "MNTP step, full") > memory_line(f32.output, "MNTP step, full"));
  // Larger batches need more; a rank-64 adapter more than a rank-16 one.
  const test::CliRun larger = test::run_cli("inspect --model " + kModel + " --batch 8 --seq-len 64 --compute f32 --lora-rank 64", dir);
  REQUIRE_MESSAGE(larger.status == 0, larger.output);
  CHECK(memory_line(larger.output, "encode") > memory_line(f32.output, "encode"));
  CHECK(memory_line(larger.output, "MNTP step, LoRA r64") > memory_line(f32.output, "MNTP step, LoRA r16"));

  const test::CliRun bad = test::run_cli("inspect --model " + kModel + " --compute fp8", dir);
  CHECK(bad.status != 0);
  CHECK(bad.output.find("unknown compute type 'fp8'") != std::string::npos);
}

TEST_CASE("inspect takes a folder with only config.json: shapes and the memory estimate") {
  test::TempDir dir("cli-inspect-config-only");
  std::filesystem::create_directories(dir.path / "model");
  std::filesystem::copy_file(kModel + "/config.json", dir.path / "model" / "config.json");
  const test::CliRun r = test::run_cli("inspect --model " + (dir.path / "model").string() + " --compute f32", dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("config.json only") != std::string::npos);
  CHECK(r.output.find("parameters       135488") != std::string::npos);
  CHECK(memory_line(r.output, "encode") > 0);
}

}  // namespace test_cli_encode
