// The way out: the GGUF writer, the quantizers, the tokenizer as GGUF metadata and as tokenizer.json, and
// `gguf export` / `export sentence-transformers` run as a user would. The references nobody here wrote are the
// files llama.cpp's own converter made from the HF fixtures (tests/fixtures/gguf): our export of the same
// weights must hold the same bytes under the same names.
#include <bg2vec/gguf/model_export.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/text/gguf_vocabulary.hpp>
#include <bg2vec/text/hf_tokenizer_json.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "support.hpp"

namespace test_gguf_export {

using namespace bg2vec;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::vector<std::string> bulgarian_lines() {
  return {"София е столицата на България.", "Столицата на България е София.", "  Пловдив  е  вторият по големина град. ",
          "Ѣ и ѫ са стари букви.", "Река Дунав тече по северната граница.", "В 1879 г. Търново е столица.",
          "Hello, world! 123 ₂ ½", "Мусала (2925 m) е най-високият връх на Балканския полуостров."};
}

std::string fixture_tokenizer(const std::string& hf) {
  return test::fixture(hf == "mistral-dev" ? "gguf/tokenizers/mistral-dev.model" : "gguf/tokenizers/gemma3-dev.model").string();
}

// An encoder folder as `train` writes one: the HF fixture's weights, a tokenizer.model, bg2vec.json.
std::filesystem::path encoder_folder(const test::TempDir& dir, const std::string& hf, const std::string& attention = "bidirectional",
                                     const std::string& pooling = "mean") {
  const auto out = dir / (hf + "-" + attention + "-" + pooling);
  std::filesystem::create_directories(out);
  for (const char* f : {"config.json", "model.safetensors"}) std::filesystem::copy_file(test::fixture("hf/" + hf + "/" + f), out / f);
  std::filesystem::copy_file(fixture_tokenizer(hf), out / "tokenizer.model");
  EncoderSettings s;
  s.attention = attention, s.pooling = pooling, s.max_length = 64;
  s.save(out);
  return out;
}

Matrix read_embeddings(const std::filesystem::path& file) {
  const io::SafetensorsFile f(file);
  const auto& info = f.info("embeddings");
  Matrix m(info.shape.at(0), info.shape.at(1));
  std::vector<float> v(size_t(m.size()));
  f.read_float32("embeddings", v);
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = v[size_t(i * m.cols() + j)];
  return m;
}

std::vector<float> tensor_float32(const gguf::GgufFile& f, const std::string& name) { return f.read_float32(f.tensor(name)); }

}  // namespace

TEST_CASE("GgufWriter writes what GgufFile reads: every value type, aligned tensors, general.alignment") {
  test::TempDir dir("gguf-writer");
  gguf::GgufWriter w(64);
  w.add_string("s", "София");
  w.add_u32("u32", 4000000000u);
  w.add_i32("i32", -7);
  w.add_u64("u64", uint64_t(1) << 40);
  w.add_f32("f32", 0.25f);
  w.add_bool("b", true);
  w.add_strings("strings", {"a", "", "▁б"});
  w.add_f32s("floats", {1.5f, -2.0f});
  w.add_i32s("ints", {3, -4, 5});
  w.add_bools("bools", {true, false, true});
  std::vector<float> a(15), b(64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) - 7.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::sin(float(i));
  w.add_tensor("a", {5, 3}, gguf::GgmlType::F32, gguf::quantize(gguf::GgmlType::F32, a));
  w.add_tensor("b", {32, 2}, gguf::GgmlType::Q8_0, gguf::quantize(gguf::GgmlType::Q8_0, b));
  w.add_tensor("c", {3}, gguf::GgmlType::F16, gguf::quantize(gguf::GgmlType::F16, std::vector<float>{1, 2, 3}));
  w.write(dir / "x.gguf");

  const gguf::GgufFile f(dir / "x.gguf");
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 64);
  CHECK(f.keys().front() == "general.alignment");
  CHECK(f.string("s") == "София");
  CHECK(f.integer("u32") == 4000000000);
  CHECK(f.integer("i32") == -7);
  CHECK(f.integer("u64") == (int64_t(1) << 40));
  CHECK(f.number("f32") == 0.25);
  CHECK(f.find_bool("b") == true);
  CHECK(f.strings("strings") == std::vector<std::string>{"a", "", "▁б"});
  CHECK(f.numbers("floats") == std::vector<double>{1.5, -2.0});
  CHECK(f.integers("ints") == std::vector<int64_t>{3, -4, 5});
  CHECK(f.integers("bools") == std::vector<int64_t>{1, 0, 1});
  CHECK(f.data_offset() % 64 == 0);
  for (const auto& t : f.tensors()) CHECK(t.offset % 64 == 0);
  CHECK(f.tensor("a").shape() == Shape{3, 5});
  CHECK(tensor_float32(f, "a") == a);
  CHECK(tensor_float32(f, "c") == std::vector<float>{1, 2, 3});
  CHECK(f.tensor("b").type == gguf::GgmlType::Q8_0);

  gguf::GgufWriter bad;
  CHECK_THROWS_WITH(bad.add_u32("general.alignment", 8), doctest::Contains("added twice"));
  bad.add_tensor("t", {32}, gguf::GgmlType::F32, std::vector<std::byte>(128));
  CHECK_THROWS_WITH(bad.add_tensor("t", {32}, gguf::GgmlType::F32, std::vector<std::byte>(128)), doctest::Contains("added twice"));
  CHECK_THROWS_WITH(bad.add_tensor("u", {31}, gguf::GgmlType::Q8_0, std::vector<std::byte>(34)), doctest::Contains("block size"));
  CHECK_THROWS_WITH(bad.add_tensor("v", {32}, gguf::GgmlType::F16, std::vector<std::byte>(63)), doctest::Contains("bytes of data"));
  CHECK_THROWS_WITH(bad.add_tensor("w", {1, 1, 1, 1, 1}, gguf::GgmlType::F32, std::vector<std::byte>(4)), doctest::Contains("dimensions"));
  CHECK_THROWS_WITH(gguf::GgufWriter(24), doctest::Contains("power of two"));
}

TEST_CASE("Q8_0, F16 and BF16: what our dequantizer reads back, within the Q8_0 bound") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(32 * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (i < 32 ? 0.0f : i < 64 ? 1e-6f : i < 96 ? 300.0f : 0.05f);
  x[100] = 7.0f;   // an outlier block
  const auto q = gguf::quantize(gguf::GgmlType::Q8_0, x);
  CHECK(q.size() == 64 * 34);
  std::vector<float> y(x.size());
  gguf::dequantize(gguf::GgmlType::Q8_0, q, y);
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b * 32 + j]));
    const float d = amax / 127.0f, d16 = f16_to_f32(f32_to_f16(d));
    for (size_t j = 0; j < 32; ++j) {
      const size_t i = b * 32 + j;
      CHECK(std::abs(x[i] - y[i]) <= gguf::q8_0_error_bound(amax));
      if (d >= 0x1p-14f) CHECK(std::abs(x[i] - y[i]) <= 0.563 * d);   // float16's normal range: under 0.563 steps
      // ggml's formula: q = round(x / d) with d in float32, scaled back by the float16 d
      const float expected = d == 0 ? 0.0f : d16 * std::round(x[i] * (1.0f / d));
      CHECK(y[i] == expected);
    }
  }
  for (size_t j = 0; j < 32; ++j) CHECK(y[j] == 0.0f);
  for (const auto type : {gguf::GgmlType::F16, gguf::GgmlType::BF16}) {
    std::vector<float> z(x.size());
    gguf::dequantize(type, gguf::quantize(type, x), z);
    for (size_t i = 0; i < x.size(); ++i)
      REQUIRE(z[i] == (type == gguf::GgmlType::F16 ? f16_to_f32(f32_to_f16(x[i])) : bf16_to_f32(f32_to_bf16(x[i]))));
  }
  CHECK_THROWS_WITH(gguf::quantize(gguf::GgmlType::Q4_K, x), doctest::Contains("only F32, F16, BF16, Q8_0"));
}

TEST_CASE("our Q8_0 of gemma3-dev's weights is llama.cpp's converter's, byte for byte") {
  const gguf::GgufFile reference(test::fixture("gguf/gemma3-dev-q8_0.gguf"));
  const Model hf = load_model(test::fixture("hf/gemma3-dev"));
  const gguf::Architecture& arch = gguf::architecture_of(reference);
  int compared = 0;
  for (const auto& t : reference.tensors()) {
    if (t.type != gguf::GgmlType::Q8_0) continue;
    const std::string name = gguf::detail::hf_name(arch, t.name, hf.config().num_layers);
    CAPTURE(t.name);
    REQUIRE(!name.empty());
    const auto ours = gguf::quantize(gguf::GgmlType::Q8_0, hf.parameter(name));
    const auto theirs = reference.data(t);
    REQUIRE(ours.size() == theirs.size());
    CHECK(std::memcmp(ours.data(), theirs.data(), ours.size()) == 0);
    ++compared;
  }
  CHECK(compared > 10);
}

TEST_CASE("parse_sentencepiece reads back serialize's bytes and the fixtures' tokenizer.model files") {
  for (const std::string hf : {"mistral-dev", "gemma3-dev"}) {
    CAPTURE(hf);
    const std::string bytes = read_bytes(fixture_tokenizer(hf));
    const text::ParsedSentencePiece parsed = text::parse_sentencepiece(bytes, hf);
    const text::Tokenizer original(fixture_tokenizer(hf));
    CHECK(int(parsed.model.pieces.size()) == original.vocab_size());
    CHECK(parsed.model.unk_id == original.unk_id());
    CHECK(parsed.model.algorithm == text::SentencePieceAlgorithm::bpe);
    for (int id = 0; id < original.vocab_size(); ++id) REQUIRE(parsed.model.pieces[size_t(id)].text == original.id_to_piece(id));
    // serialized again (identity normalization), it cuts text as the original
    const text::Tokenizer again = text::Tokenizer::from_serialized(text::serialize(parsed.model), hf);
    for (const auto& line : bulgarian_lines()) CHECK(again.encode(line) == original.encode(line));
    const text::ParsedSentencePiece twice = text::parse_sentencepiece(text::serialize(parsed.model), hf);
    CHECK(twice.normalizer_name == "identity");
    CHECK(twice.model.pieces.size() == parsed.model.pieces.size());
    for (size_t i = 0; i < twice.model.pieces.size(); ++i) {
      REQUIRE(twice.model.pieces[i].text == parsed.model.pieces[i].text);
      REQUIRE(twice.model.pieces[i].score == parsed.model.pieces[i].score);
      REQUIRE(twice.model.pieces[i].type == parsed.model.pieces[i].type);
    }
    CHECK(twice.model.byte_fallback == parsed.model.byte_fallback);
    CHECK(twice.model.add_dummy_prefix == parsed.model.add_dummy_prefix);
  }
  CHECK_THROWS_WITH(text::parse_sentencepiece(std::string("\x0a\xff", 2), "cut"), doctest::Contains("truncated"));
}

TEST_CASE("the tokenizer as GGUF metadata: sentencepiece_from_gguf rebuilds it, padded to the model's vocabulary") {
  test::TempDir dir("gguf-vocabulary");
  for (const std::string hf : {"mistral-dev", "gemma3-dev"}) {
    CAPTURE(hf);
    text::ParsedSentencePiece spm = text::parse_sentencepiece(read_bytes(fixture_tokenizer(hf)), hf);
    // a user-defined piece spelled with U+2581 is stored with spaces (llama.cpp matches user-defined pieces in raw text)
    spm.model.pieces.push_back({"▁<bg2vec>▁", 0.0f, text::PieceType::user_defined});
    const int vocab = int(spm.model.pieces.size()) + 3;
    gguf::GgufWriter w;
    const auto warnings = text::add_gguf_vocabulary(w, spm, vocab, hf);   // the fixtures' tokenizers have no byte fallback
    REQUIRE(warnings.size() == 1);
    CHECK(contains(warnings[0], "no byte fallback"));
    w.write(dir / (hf + ".gguf"));
    const gguf::GgufFile f(dir / (hf + ".gguf"));
    const auto& tokens = f.strings("tokenizer.ggml.tokens");
    REQUIRE(tokens.size() == size_t(vocab));
    CHECK(tokens[spm.model.pieces.size() - 1] == " <bg2vec> ");
    CHECK(tokens.back() == "[PAD3]");
    CHECK(f.integers("tokenizer.ggml.token_type").back() == 5);
    CHECK(f.find_bool("tokenizer.ggml.add_space_prefix") == spm.model.add_dummy_prefix);
    const text::SentencePieceModel back = text::sentencepiece_from_gguf(f);
    for (size_t i = 0; i < spm.model.pieces.size(); ++i) {
      REQUIRE(back.pieces[i].text == spm.model.pieces[i].text);
      REQUIRE(back.pieces[i].score == spm.model.pieces[i].score);
      REQUIRE(back.pieces[i].type == spm.model.pieces[i].type);
    }
    const text::Tokenizer original(fixture_tokenizer(hf)), rebuilt = text::tokenizer_from_gguf(f);
    CHECK(rebuilt.bos_id() == original.bos_id());
    CHECK(rebuilt.eos_id() == original.eos_id());
    for (const auto& line : bulgarian_lines()) CHECK(rebuilt.encode(line) == original.encode(line));
    gguf::GgufWriter small;
    CHECK_THROWS_WITH(text::add_gguf_vocabulary(small, spm, vocab - 4, hf), doctest::Contains("more than the model's vocabulary"));
  }
  text::ParsedSentencePiece unigram = text::parse_sentencepiece(read_bytes(fixture_tokenizer("gemma3-dev")), "x");
  unigram.model.algorithm = text::SentencePieceAlgorithm::unigram;
  gguf::GgufWriter w;
  CHECK_THROWS_WITH(text::add_gguf_vocabulary(w, unigram, 384, "x"), doctest::Contains("unigram"));
}

// Hugging Face's BPE as `tokenizers` applies a tokenizer.json (no added tokens in these texts): normalize,
// split into characters (bytes for those not in the vocabulary), merge the pair of lowest rank until none is left.
std::vector<int32_t> apply_tokenizer_json(const nlohmann::json& tj, const std::string& text) {
  const auto& vocab = tj["model"]["vocab"];
  std::map<std::pair<std::string, std::string>, size_t> rank;
  for (size_t i = 0; i < tj["model"]["merges"].size(); ++i)
    rank.emplace(std::pair(tj["model"]["merges"][i][0].get<std::string>(), tj["model"]["merges"][i][1].get<std::string>()), i);
  std::string normalized = tj["normalizer"]["type"] == "Sequence" ? "▁" : "";
  for (char c : text) normalized += c == ' ' ? std::string("▁") : std::string(1, c);
  std::vector<std::string> symbols;
  for (size_t pos = 0; pos < normalized.size();) {
    const size_t start = pos;
    next_code_point(normalized, pos);
    symbols.push_back(normalized.substr(start, pos - start));
  }
  for (;;) {
    size_t best = SIZE_MAX, at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i)
      if (auto it = rank.find({symbols[i], symbols[i + 1]}); it != rank.end() && it->second < best) best = it->second, at = i;
    if (best == SIZE_MAX) break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + long(at) + 1);
  }
  std::vector<int32_t> ids;
  const int32_t unk = vocab.at(tj["model"]["unk_token"].get<std::string>()).get<int32_t>();
  bool last_unknown = false;
  for (const auto& s : symbols) {
    if (vocab.contains(s)) {
      ids.push_back(vocab.at(s).get<int32_t>());
      last_unknown = false;
    } else if (tj["model"]["byte_fallback"] == true) {
      for (unsigned char c : s) {
        char piece[8];
        std::snprintf(piece, sizeof piece, "<0x%02X>", c);
        ids.push_back(vocab.at(piece).get<int32_t>());
      }
    } else if (!last_unknown) {   // fuse_unk: a run of unknown characters is one unk
      ids.push_back(unk);
      last_unknown = true;
    }
  }
  return ids;
}

TEST_CASE("tokenizer.json: its BPE merges cut text as sentencepiece does") {
  for (const std::string hf : {"mistral-dev", "gemma3-dev"}) {
    CAPTURE(hf);
    const text::ParsedSentencePiece spm = text::parse_sentencepiece(read_bytes(fixture_tokenizer(hf)), hf);
    const nlohmann::json tj = nlohmann::json::parse(text::hf_tokenizer_json(spm.model).dump());
    const text::Tokenizer original(fixture_tokenizer(hf));
    CHECK(tj["model"]["merges"].size() > 100);
    for (const auto& line : bulgarian_lines()) {
      CAPTURE(line);
      CHECK(apply_tokenizer_json(tj, line) == original.encode(line, /*add_bos=*/false));
    }
    CHECK(tj["post_processor"]["single"][0]["SpecialToken"]["id"] == original.id_to_piece(original.bos_id()));
  }
}

TEST_CASE("gguf export: llama.cpp's converter's tensors, byte for byte, and its metadata") {
  test::TempDir dir("gguf-export-converter");
  struct Case { std::string hf, reference, arch; };
  for (const Case& c : {Case{"mistral-dev", "gguf/mistral-dev-f32.gguf", "llama"}, Case{"gemma3-dev", "gguf/gemma3-dev-f32.gguf", "gemma3"}}) {
    CAPTURE(c.hf);
    // causal: the architecture llama.cpp's converter writes for a decoder
    const auto folder = encoder_folder(dir, c.hf, "causal", "last");
    const auto out = dir / (c.hf + ".gguf");
    const test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + out.string(), dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const gguf::GgufFile ours(out), theirs(test::fixture(c.reference));
    CHECK(ours.string("general.architecture") == c.arch);
    CHECK(ours.tensors().size() == theirs.tensors().size());
    for (const auto& t : theirs.tensors()) {
      CAPTURE(t.name);
      const gguf::TensorInfo* o = ours.find_tensor(t.name);
      REQUIRE(o != nullptr);
      CHECK(o->dims == t.dims);
      CHECK(o->type == t.type);
      const auto a = ours.data(*o), b = theirs.data(t);
      REQUIRE(a.size() == b.size());
      CHECK(std::memcmp(a.data(), b.data(), a.size()) == 0);
    }
    const std::string p = c.arch + ".";
    for (const std::string key : {"embedding_length", "block_count", "feed_forward_length", "attention.head_count",
                                  "attention.head_count_kv", "context_length"})
      CHECK(ours.integer(p + key) == theirs.integer(p + key));
    CHECK(ours.number(p + "rope.freq_base") == theirs.number(p + "rope.freq_base"));
    CHECK(ours.number(p + "attention.layer_norm_rms_epsilon") == theirs.number(p + "attention.layer_norm_rms_epsilon"));
    CHECK(ours.find_bool(p + "attention.causal") == true);
    CHECK(ours.integer(p + "pooling_type") == 3);
    CHECK(ours.strings("tokenizer.ggml.tokens") == theirs.strings("tokenizer.ggml.tokens"));
    CHECK(ours.integers("tokenizer.ggml.token_type") == theirs.integers("tokenizer.ggml.token_type"));
    CHECK(ours.numbers("tokenizer.ggml.scores") == theirs.numbers("tokenizer.ggml.scores"));
    for (const std::string key : {"bos_token_id", "eos_token_id"})
      CHECK(ours.integer("tokenizer.ggml." + key) == theirs.integer("tokenizer.ggml." + key));
    const auto types = theirs.integers("tokenizer.ggml.token_type");   // the converter gives unk by its type only
    CHECK(ours.integer("tokenizer.ggml.unknown_token_id") == std::find(types.begin(), types.end(), 2) - types.begin());
  }
}

TEST_CASE("gguf export then gguf import: the same weights (exact in f32) and identical embeddings") {
  test::TempDir dir("gguf-export-roundtrip");
  std::ofstream(dir / "texts.txt") << [] {
    std::string s;
    for (const auto& l : bulgarian_lines()) s += l + "\n";
    return s;
  }();
  for (const std::string hf : {"mistral-dev", "gemma2-dev", "gemma3-dev"}) {
    CAPTURE(hf);
    const auto folder = encoder_folder(dir, hf);
    const auto file = dir / (hf + ".gguf"), imported = dir / (hf + "-imported");
    test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + file.string(), dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const gguf::GgufFile f(file);
    const std::string arch = hf == "mistral-dev" ? "llama" : hf == "gemma2-dev" ? "gemma2" : "gemma-embedding";
    CHECK(f.string("general.architecture") == arch);
    CHECK(f.find_bool(arch + ".attention.causal") == false);
    CHECK(f.integer(arch + ".pooling_type") == 1);
    if (hf != "mistral-dev") CHECK(f.integer(arch + ".attention.sliding_window") == 2 * f.integer(arch + ".context_length"));
    r = test::run_cli("gguf import --gguf " + file.string() + " --out " + imported.string(), dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const Model original = load_model(folder), back = load_model(imported);
    CHECK(back.config().architecture == (hf == "mistral-dev" ? "LlamaForCausalLM" : original.config().architecture));
    // exact, except that Gemma's norms travel as 1 + w (llama.cpp's convention): they come back as (w + 1) - 1
    const bool gemma = original.config().is_gemma();
    for (const auto& p : original.layout().tensors()) {
      CAPTURE(p.name);
      const auto a = original.parameter(p.name), b = back.parameter(p.name);
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i)
        REQUIRE(b[i] == (gemma && p.name.ends_with("norm.weight") ? (a[i] + 1.0f) - 1.0f : a[i]));
    }
    const EncoderSettings settings = EncoderSettings::load(imported);
    CHECK(settings.attention == "bidirectional");
    CHECK(settings.pooling == "mean");
    CHECK(settings.max_length == 64);
    // encode with each folder's defaults: the exported file itself, the imported folder, the original
    for (const auto& [model, name] : {std::pair{folder, "a"}, {imported, "b"}, {file, "c"}}) {
      r = test::run_cli("encode --compute f32 --model " + model.string() + " --text-file " + (dir / "texts.txt").string() + " --out " +
                            (dir / (hf + name + ".safetensors")).string(), dir);
      REQUIRE_MESSAGE(r.status == 0, r.output);
    }
    const Matrix a = read_embeddings(dir / (hf + "a.safetensors")), b = read_embeddings(dir / (hf + "b.safetensors")),
                 c = read_embeddings(dir / (hf + "c.safetensors"));
    CHECK(a.rows() == Eigen::Index(bulgarian_lines().size()));
    CHECK((b - c).cwiseAbs().maxCoeff() == 0.0f);   // the GGUF and its import: the same weights, the same embeddings
    const double diff = (a - b).cwiseAbs().maxCoeff() / a.cwiseAbs().maxCoeff();
    MESSAGE(hf << ": original vs imported embeddings, max |diff| / max |e| = " << diff);
    if (gemma) CHECK(diff < 1e-5);   // the norms' (w + 1) - 1
    else CHECK(diff == 0.0);
  }
}

TEST_CASE("gguf export --type q8_0 / f16 / bf16: our dequantizer's values of the f32 export, within the bound") {
  test::TempDir dir("gguf-export-types");
  const auto folder = encoder_folder(dir, "gemma3-dev");
  test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + (dir / "f32.gguf").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const gguf::GgufFile f32(dir / "f32.gguf");
  for (const std::string type : {"q8_0", "f16", "bf16"}) {
    CAPTURE(type);
    const auto file = dir / (type + ".gguf");
    r = test::run_cli("gguf export --model " + folder.string() + " --out " + file.string() + " --type " + type, dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const gguf::GgufFile q(file);
    const uint32_t expected_type = type == "q8_0" ? 8 : type == "f16" ? 1 : 30;
    CHECK(q.integer("general.file_type") == (type == "q8_0" ? 7 : type == "f16" ? 1 : 32));
    for (const auto& t : f32.tensors()) {
      CAPTURE(t.name);
      const gguf::TensorInfo& s = q.tensor(t.name);
      const auto x = f32.read_float32(t), y = q.read_float32(s);
      if (t.dims.size() == 1) {
        CHECK(s.type == gguf::GgmlType::F32);
        CHECK(x == y);
        continue;
      }
      CHECK(uint32_t(s.type) == expected_type);
      std::vector<float> own(x.size());
      gguf::dequantize(s.type, gguf::quantize(s.type, x), own);
      CHECK(y == own);
      if (type == "q8_0")
        for (size_t b = 0; b < x.size() / 32; ++b) {
          float amax = 0, err = 0;
          for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b * 32 + j])), err = std::max(err, std::abs(x[b * 32 + j] - y[b * 32 + j]));
          REQUIRE(err <= gguf::q8_0_error_bound(amax));
        }
    }
    r = test::run_cli("gguf import --gguf " + file.string() + " --out " + (dir / (type + "-imported")).string(), dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
  }
}

TEST_CASE("gguf export --adapter merges a PEFT adapter; a folder's own adapter/ is not merged twice") {
  test::TempDir dir("gguf-export-adapter");
  const auto folder = encoder_folder(dir, "mistral-dev");
  std::filesystem::copy(test::fixture("hf/mistral-dev/lora"), folder / "adapter");
  test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + (dir / "plain.gguf").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "not merged again"));
  r = test::run_cli("gguf export --model " + folder.string() + " --adapter " + test::fixture("hf/mistral-dev/lora").string() + " --out " +
                        (dir / "merged.gguf").string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  Model expected = load_model(folder);
  merge_lora(expected.weights(), peft::load_adapter(test::fixture("hf/mistral-dev/lora"), expected.config()));
  const Model plain = load_model(dir / "plain.gguf"), merged = load_model(dir / "merged.gguf"), base = load_model(folder);
  double changed = 0;
  for (const auto& p : expected.layout().tensors()) {
    const std::span<const float> e = expected.parameter(p.name), m = merged.parameter(p.name), b = base.parameter(p.name),
                                 q = plain.parameter(p.name);
    for (size_t i = 0; i < e.size(); ++i) {
      REQUIRE(m[i] == e[i]);
      REQUIRE(q[i] == b[i]);
      changed += std::abs(e[i] - b[i]);
    }
  }
  CHECK(changed > 0);   // the adapter is not a zero one
}

TEST_CASE("gguf export refuses what llama.cpp cannot run as the encoder, with exit code 1 and nothing written") {
  test::TempDir dir("gguf-export-refusals");
  const auto folder = encoder_folder(dir, "gemma3-dev");
  const auto out = dir / "x.gguf";
  struct Case { std::string args, message; };
  for (const Case& c : {Case{"--type q4_k", "--type must be f32, f16, bf16 or q8_0"},
                        Case{"--pooling weighted-mean", "has no llama.cpp equivalent"},
                        Case{"--attention sideways", "--attention must be causal or bidirectional"},
                        Case{"--adapter " + (dir / "none").string(), "adapter_config.json"}}) {
    CAPTURE(c.args);
    const test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + out.string() + " " + c.args, dir);
    CHECK(r.status == 1);
    CHECK(contains(r.output, c.message));
    CHECK(!std::filesystem::exists(out));
  }
  // an encoder that leaves BOS out of its mean (the demo's): an explicit choice, each recorded in the file
  EncoderSettings skip = EncoderSettings::load(folder);
  skip.skip_bos = true;
  skip.save(folder);
  test::CliRun r = test::run_cli("gguf export --model " + folder.string() + " --out " + out.string(), dir);
  CHECK(r.status == 1);
  CHECK(contains(r.output, "--include-bos"));
  CHECK(contains(r.output, "--token-embeddings"));
  CHECK(!std::filesystem::exists(out));
  r = test::run_cli("gguf export --include-bos --model " + folder.string() + " --out " + out.string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(gguf::GgufFile(out).integer("gemma-embedding.pooling_type") == 1);
  CHECK(EncoderSettings::load(out).skip_bos == false);
  r = test::run_cli("gguf export --token-embeddings --model " + folder.string() + " --out " + out.string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(gguf::GgufFile(out).integer("gemma-embedding.pooling_type") == 0);
  CHECK(EncoderSettings::load(out).skip_bos == true);
  CHECK(EncoderSettings::load(out).pooling == "mean");
  std::filesystem::remove(out);

  std::filesystem::remove(folder / "tokenizer.model");
  r = test::run_cli("gguf export --include-bos --model " + folder.string() + " --out " + out.string(), dir);
  CHECK(r.status == 1);
  CHECK(contains(r.output, "has no tokenizer.model"));
  CHECK(!std::filesystem::exists(out));
}

TEST_CASE("export sentence-transformers: a Gemma3TextModel folder with bidirectional attention and a pooling module") {
  test::TempDir dir("export-st");
  const auto folder = encoder_folder(dir, "gemma3-dev");
  const auto out = dir / "st";
  test::CliRun r = test::run_cli("export sentence-transformers --model " + folder.string() + " --out " + out.string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "modules.json",
                        "sentence_bert_config.json", "1_Pooling/config.json"})
    CHECK(std::filesystem::exists(out / f));
  const auto json = [&](const std::string& f) {
    std::ifstream in(out / f);
    return nlohmann::json::parse(in);
  };
  const auto config = json("config.json");
  CHECK(config["architectures"] == nlohmann::json::array({"Gemma3TextModel"}));
  CHECK(config["use_bidirectional_attention"] == true);
  CHECK(config["sliding_window"] == 2 * config["max_position_embeddings"].get<int>());
  CHECK(json("1_Pooling/config.json")["pooling_mode_mean_tokens"] == true);
  CHECK(json("1_Pooling/config.json")["word_embedding_dimension"] == 64);
  CHECK(json("modules.json")[1]["type"] == "sentence_transformers.models.Pooling");
  CHECK(json("sentence_bert_config.json")["max_seq_length"] == 64);
  CHECK(json("tokenizer_config.json")["add_bos_token"] == true);
  const io::SafetensorsFile weights(out / "model.safetensors");
  const Model model = load_model(folder);
  CHECK(!weights.contains("lm_head.weight"));
  for (const auto& p : model.layout().tensors()) {
    CAPTURE(p.name);
    const std::string name = p.name.substr(6);   // without "model."
    REQUIRE(weights.contains(name));
    std::vector<float> v(p.size());
    weights.read_float32(name, v);
    const auto e = model.parameter(p.name);
    CHECK(std::equal(v.begin(), v.end(), e.begin()));
  }

  const test::CliRun refused = test::run_cli("export sentence-transformers --model " + encoder_folder(dir, "mistral-dev").string() +
                                                 " --out " + (dir / "st-mistral").string(), dir);
  CHECK(refused.status == 1);
  CHECK(contains(refused.output, "use_bidirectional_attention"));
  CHECK(contains(refused.output, "gguf export"));
  CHECK(!std::filesystem::exists(dir / "st-mistral"));
}

}  // namespace test_gguf_export
