// Damaged and hostile inputs through the command line, one class per case, as a user meets them: every
// one must exit 1 with one error line that names the file (or the flag) and the problem, and write
// nothing. docs/reliability.md lists the messages. (The readers themselves are fuzzed: tests/fuzz/.)
#include <bg2vec/core/atomic_file.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>

#include "support.hpp"

namespace test_cli_bad_inputs {

namespace fs = std::filesystem;
using namespace bg2vec;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

// A small GGUF from its parts (little-endian, as the format is).
struct Gguf {
  std::string bytes;
  template <class T>
  Gguf& raw(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Gguf& str(const std::string& s) {
    raw<uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  static Gguf header(uint64_t tensors, uint64_t keys) {
    Gguf g;
    g.bytes = "GGUF";
    return g.raw<uint32_t>(3).raw<uint64_t>(tensors).raw<uint64_t>(keys);
  }
};

struct Workspace {
  test::TempDir dir{"cli-bad-inputs"};
  fs::path out = dir / "out";

  // The command must fail with exit status 1, its last line the error naming `file` (if any) and `problem`,
  // and leave no --out behind.
  void check_fails(const std::string& arguments, const std::string& file, const std::string& problem) {
    CAPTURE(arguments);
    const test::CliRun r = test::run_cli(arguments, dir);
    CAPTURE(r.output);
    CHECK(r.status == 1);
    std::string last = r.output;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    MESSAGE(last);   // the table in docs/reliability.md is these lines
    CHECK(last.find("error: ") != std::string::npos);
    if (!file.empty()) CHECK(last.find(file) != std::string::npos);
    CHECK(last.find(problem) != std::string::npos);
    CHECK_FALSE(fs::exists(out));
    fs::remove_all(out);   // so that one case that wrote does not fail the next
  }

  // A copy of the mistral-dev fixture folder with one file replaced.
  fs::path model_with(const std::string& name, const std::string& bytes) {
    const fs::path model = dir / ("model-" + std::to_string(models++));
    fs::create_directories(model);
    for (const char* f : {"config.json", "model.safetensors"})
      fs::copy_file(test::fixture(std::string("hf/mistral-dev/") + f), model / f);
    write_bytes(model / name, bytes);
    return model;
  }
  int models = 0;
};

const std::string kBatch = test::fixture("hf/mistral-dev/reference.safetensors").string();

std::string safetensors_with_header(const std::string& header, size_t data_bytes, std::optional<uint64_t> claimed = std::nullopt) {
  const uint64_t len = claimed.value_or(header.size());
  std::string bytes(reinterpret_cast<const char*>(&len), 8);
  return bytes + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("damaged GGUF files: exit 1, one line naming the file and the problem") {
  Workspace w;
  const std::string good = read_bytes(test::fixture("gguf/mistral-dev-f32.gguf"));
  const auto inspect = [&](const std::string& name, const std::string& bytes, const std::string& problem) {
    write_bytes(w.dir / name, bytes);
    w.check_fails("inspect --model " + (w.dir / name).string(), name, problem);
  };
  inspect("truncated.gguf", good.substr(0, good.size() / 2), "runs past the end of the");
  inspect("header-only.gguf", good.substr(0, 20), "truncated file (20 bytes)");
  inspect("magic.gguf", "GGML" + good.substr(4), "not a GGUF file: bad magic");
  inspect("version.gguf", Gguf::header(0, 0).bytes.replace(4, 4, std::string("\0\0\0\3", 4)),
          "(a big-endian file? only little-endian ones are supported)");
  inspect("keys.gguf", Gguf::header(0, uint64_t(1) << 60).bytes, "key count 1152921504606846976 is too large for the file");
  inspect("tensors.gguf", Gguf::header(uint64_t(1) << 62, 0).bytes, "tensor count 4611686018427387904 is too large for the file");
  inspect("string.gguf", Gguf::header(0, 1).str("general.name").raw<uint32_t>(8).raw<uint64_t>(uint64_t(1) << 40).bytes,
          "has length 1099511627776, past the end of the file");
  inspect("array.gguf", Gguf::header(0, 1).str("tokenizer.ggml.scores").raw<uint32_t>(9).raw<uint32_t>(6).raw<uint64_t>(uint64_t(1) << 61).bytes,
          "array of 2305843009213693952 float32 elements runs past the end of the file");
  // One F32 tensor of 4 elements whose data offset points a terabyte past the end.
  Gguf offset = Gguf::header(1, 0).str("token_embd.weight").raw<uint32_t>(1).raw<uint64_t>(4).raw<uint32_t>(0).raw<uint64_t>(uint64_t(1) << 40);
  offset.bytes.append(32 - offset.bytes.size() % 32 + 16, '\0');
  inspect("offset.gguf", offset.bytes, "runs past the end of the 16-byte data section");
  Gguf dims = Gguf::header(1, 0).str("x").raw<uint32_t>(2).raw<uint64_t>(uint64_t(1) << 32).raw<uint64_t>(uint64_t(1) << 32)
                  .raw<uint32_t>(0).raw<uint64_t>(0);
  inspect("dims.gguf", dims.bytes, "the element count overflows int64");
  Gguf type = Gguf::header(1, 0).str("x").raw<uint32_t>(1).raw<uint64_t>(32).raw<uint32_t>(4).raw<uint64_t>(0);
  inspect("type.gguf", type.bytes, "unknown type id 4 (Q4_2, which ggml has removed)");
}

TEST_CASE("damaged safetensors and config.json in a model folder: exit 1, naming the file") {
  Workspace w;
  const std::string encode = " --ids " + kBatch + " --out " + w.out.string();
  const std::string good = read_bytes(test::fixture("hf/mistral-dev/model.safetensors"));
  const auto model = [&](const std::string& name, const std::string& bytes) { return "encode --model " + w.model_with(name, bytes).string() + encode; };
  w.check_fails(model("model.safetensors", good.substr(0, good.size() / 2)), "model.safetensors", "out of range of the");
  w.check_fails(model("model.safetensors", safetensors_with_header("{}", 0, uint64_t(1) << 50)), "model.safetensors",
                "header length 1125899906842624 runs past the end of the file");
  w.check_fails(model("model.safetensors", safetensors_with_header(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,99999999999]}})", 16)),
                "model.safetensors", "data offsets [0, 99999999999) out of range of the 16-byte data section");
  w.check_fails(model("model.safetensors", safetensors_with_header("{\"a\": \xff}", 0)), "model.safetensors", "header is not valid JSON");
  // 2^62 x 4 float32: an element count that overflows, which must not wrap to the empty range it claims.
  w.check_fails(model("model.safetensors", safetensors_with_header(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", 0)),
                "model.safetensors", "too many elements");

  nlohmann::json config;
  std::ifstream(test::fixture("hf/mistral-dev/config.json")) >> config;
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json c = config;
    c[key] = value;
    return model("config.json", c.dump());
  };
  w.check_fails(model("config.json", "{\"vocab_size\": 384,"), "config.json", "not valid JSON");
  w.check_fails(model("config.json", "[1, 2]"), "config.json", "not a JSON object");
  w.check_fails(with("vocab_size", 1e12), "config.json", "field \"vocab_size\" must be a positive integer");
  w.check_fails(with("num_hidden_layers", -3), "config.json", "field \"num_hidden_layers\" must be a positive integer");
  w.check_fails(with("num_hidden_layers", 1 << 30), "config.json", "the model declares 1073741824 layers, more than the 4096 bg2vec accepts");
  {
    nlohmann::json huge = config;   // 2^30 x 2^30 feed-forward matrices: 6.9e18 parameters
    huge["hidden_size"] = huge["intermediate_size"] = 1 << 30;
    w.check_fails(model("config.json", huge.dump()), "config.json", "the model's shapes declare about 6.92e+18 parameters, more than the 2^42 bg2vec accepts");
  }
  w.check_fails(with("tie_word_embeddings", "yes"), "config.json", "tie_word_embeddings must be true or false, got \"yes\"");
  w.check_fails(with("hidden_act", 7), "config.json", "hidden_act must be a string, got 7");
  w.check_fails(with("attention_bias", "no"), "config.json", "attention_bias must be true or false, got \"no\"");
  w.check_fails(with("architectures", {"BertModel"}), "config.json", "unsupported architecture BertModel");
  w.check_fails(with("sliding_window", 1e10), "config.json", "sliding_window must be null or a positive integer");
  w.check_fails("encode --model " + (w.dir / "nowhere").string() + encode, "nowhere", "no such model (give a Hugging Face folder or a GGUF file)");
}

TEST_CASE("damaged PEFT adapters: exit 1, naming adapter_config.json") {
  Workspace w;
  const fs::path model = w.model_with("generation_config.json", "{}");
  const auto step = [&](const nlohmann::json& config) {
    const fs::path adapter = w.dir / ("adapter-" + std::to_string(w.models++));
    fs::create_directories(adapter);
    fs::copy_file(test::fixture("hf/mistral-dev/lora/adapter_model.safetensors"), adapter / "adapter_model.safetensors");
    write_bytes(adapter / "adapter_config.json", config.is_string() ? config.get<std::string>() : config.dump());
    return "step --model " + model.string() + " --batch " + kBatch + " --objective ntp --optimizer sgd --lr 0.1 --adapter " +
           adapter.string() + " --out " + w.out.string();
  };
  nlohmann::json good;
  std::ifstream(test::fixture("hf/mistral-dev/lora/adapter_config.json")) >> good;
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json c = good;
    c[key] = value;
    return step(c);
  };
  w.check_fails(step(std::string("{\"r\": ")), "adapter_config.json", "not valid JSON");
  w.check_fails(with("peft_type", "IA3"), "adapter_config.json", "peft_type must be \"LORA\"");
  w.check_fails(with("r", -4), "adapter_config.json", "\"r\" must be a positive integer");
  w.check_fails(with("r", uint64_t(1) << 40), "adapter_config.json", "\"r\" must be a positive integer");
  w.check_fails(with("lora_dropout", "high"), "adapter_config.json", "lora_dropout must be a number in [0, 1)");
  w.check_fails(with("target_modules", {"q_proj", 3}), "adapter_config.json", "target_modules must hold strings");
  w.check_fails(with("target_modules", {"attn"}), "adapter_config.json", "target module 'attn' does not exist");
  w.check_fails(with("use_dora", true), "adapter_config.json", "use_dora = true is not supported");
}

TEST_CASE("damaged text inputs: dumps, BEIR sets, tokenizers; unknown flags") {
  Workspace w;
  const std::string xml = "<mediawiki><page><title>T</title><ns>0</ns><id>1</id><revision><text>x</text></revision></page></mediawiki>\n";
  const auto extract = [&](const std::string& name, const std::string& bytes) {
    write_bytes(w.dir / name, bytes);
    return "wiki extract --dump " + (w.dir / name).string() + " --out " + w.out.string();
  };
  w.check_fails(extract("empty.xml", ""), "empty.xml", "empty dump (no XML at all)");
  w.check_fails(extract("utf8.xml", "<mediawiki><page><title>\xC3\x28</title></page></mediawiki>"), "utf8.xml",
                "(malformed XML or invalid UTF-8)");
  w.check_fails(extract("cut.xml", xml.substr(0, xml.size() / 2)), "cut.xml", "XML error at line 1");
  w.check_fails(extract("ns.xml", "<mediawiki><page><title>T</title><ns>main</ns></page></mediawiki>"), "ns.xml", "non-numeric <ns>: 'main'");
  // Any other XML passed for an empty dump (exit 0, an empty articles file).
  w.check_fails(extract("html.xml", "<html><body>not a dump</body></html>"), "html.xml",
                "not a MediaWiki dump: the root element is <html>, not <mediawiki>");

  const auto beir = [&](const std::string& corpus, const std::string& queries, const std::string& qrels) {
    const fs::path set = w.dir / ("beir-" + std::to_string(w.models++));
    write_bytes(set / "corpus.jsonl", corpus);
    write_bytes(set / "queries.jsonl", queries);
    write_bytes(set / "qrels" / "test.tsv", qrels);
    return "eval retrieval --bm25 --beir " + set.string() + " --json " + w.out.string();
  };
  const std::string corpus = "{\"_id\":\"d1\",\"text\":\"София\"}\n", queries = "{\"_id\":\"q1\",\"text\":\"София\"}\n",
                    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
  w.check_fails(beir("", queries, qrels), "corpus.jsonl", "no documents");
  w.check_fails(beir("{\"_id\":\"d1\",\"text\":\"\xff\xfe\"}\n", queries, qrels), "corpus.jsonl:1", "bad JSON");
  w.check_fails(beir(corpus, "{\"_id\":\"q1\",\"text\":\"a\"\n", qrels), "queries.jsonl:1", "bad JSON");
  w.check_fails(beir(corpus, queries, "q1\td1\tvery\n" "q1\td1\tmuch\n"), "test.tsv:2", "score \"much\" is not an integer");
  w.check_fails(beir(corpus, queries, "q9\td1\t1\n"), "test.tsv", "query \"q9\" is not in queries.jsonl");

  // A model folder whose tokenizer.model is not one.
  const fs::path model = w.model_with("tokenizer.model", "this is not a sentencepiece model");
  write_bytes(w.dir / "texts.txt", "София\n");
  w.check_fails("encode --model " + model.string() + " --text-file " + (w.dir / "texts.txt").string() + " --out " + w.out.string(),
                "tokenizer.model", "not a sentencepiece model");

  w.check_fails("encode --model x --frobnicate", "", "unrecognised option '--frobnicate'");
  w.check_fails("wiki extract --dump", "", "the required argument for option '--dump' is missing");
}

}  // namespace test_cli_bad_inputs
