// GGUF: the reader (metadata, tensor infos, validation of damaged files), dequantization of every
// supported type against the gguf Python package's values, and `bg2vec gguf dequantize`.
#include <bg2vec/gguf.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "support.hpp"

namespace test_gguf {

using namespace bg2vec;

namespace {

const std::filesystem::path kQuants = test::fixture("gguf/quants-dev.gguf");
const std::filesystem::path kQuantsReference = test::fixture("gguf/quants-dev.reference.safetensors");

// A GGUF file written field by field, remembering where each labelled field lies so that a test can damage it.
struct GgufBytes {
  std::string bytes;
  std::map<std::string, size_t> at;

  template <class T>
  void put(T v, const std::string& label = "") {
    if (!label.empty()) at[label] = bytes.size();
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s, const std::string& label = "") {
    put<uint64_t>(s.size(), label);
    bytes += s;
  }
  template <class T>
  void patch(const std::string& label, T v) { std::memcpy(bytes.data() + at.at(label), &v, sizeof v); }
  void write(const std::filesystem::path& path) const { std::ofstream(path, std::ios::binary) << bytes; }
};

// A valid small file: six keys of five kinds, an F32 tensor "a" (GGUF dims [4, 2], row-major [2, 4]) and
// a Q8_0 tensor "b" of one block, both at aligned offsets.
GgufBytes tiny_gguf() {
  GgufBytes g;
  g.put<uint32_t>(0x46554747, "magic");
  g.put<uint32_t>(3, "version");
  g.put<uint64_t>(2, "tensor_count");
  g.put<uint64_t>(6, "kv_count");
  g.str("general.architecture", "key0");
  g.put<uint32_t>(8);
  g.str("tiny");
  g.str("general.alignment");
  g.put<uint32_t>(4, "alignment.type");
  g.put<uint32_t>(32, "alignment");
  g.str("general.file_type", "file_type.key");
  g.put<uint32_t>(4);
  g.put<uint32_t>(7);
  g.str("tokenizer.ggml.add_space_prefix");
  g.put<uint32_t>(7);
  g.put<uint8_t>(1, "add_space_prefix.value");
  g.str("tokenizer.ggml.tokens");
  g.put<uint32_t>(9);
  g.put<uint32_t>(8, "tokens.element_type");
  g.put<uint64_t>(3, "tokens.count");
  for (const char* t : {"a", "bc", "d"}) g.str(t);
  g.str("tokenizer.ggml.scores");
  g.put<uint32_t>(9);
  g.put<uint32_t>(6);
  g.put<uint64_t>(3, "scores.count");
  for (float s : {-1.5f, 0.0f, 2.25f}) g.put(s);

  g.str("a", "t0.name");
  g.put<uint32_t>(2, "t0.n_dims");
  g.put<uint64_t>(4, "t0.dim0");
  g.put<uint64_t>(2, "t0.dim1");
  g.put<uint32_t>(uint32_t(gguf::GgmlType::F32), "t0.type");
  g.put<uint64_t>(0, "t0.offset");
  g.str("b", "t1.name");
  g.put<uint32_t>(1, "t1.n_dims");
  g.put<uint64_t>(32, "t1.dim0");
  g.put<uint32_t>(uint32_t(gguf::GgmlType::Q8_0), "t1.type");
  g.put<uint64_t>(32, "t1.offset");
  g.at["padding"] = g.bytes.size();   // 382: two bytes of padding before the data
  g.bytes.resize((g.bytes.size() + 31) / 32 * 32, '\0');

  g.at["data"] = g.bytes.size();
  for (int i = 0; i < 8; ++i) g.put(float(i) - 2.5f);
  g.put<uint16_t>(f32_to_f16(0.5f), "t1.d");
  for (int i = 0; i < 32; ++i) g.put<int8_t>(int8_t(i - 16));
  return g;
}

std::string error_of(const std::function<void()>& f) {
  try { f(); } catch (const Error& e) { return e.what(); }
  return "";
}

// Opens the file and reads every tensor both ways; the error message, or "" when all of it worked.
std::string read_all_error(const std::filesystem::path& path) {
  return error_of([&] {
    const gguf::GgufFile f(path);
    for (const auto& key : f.keys()) (void)f.value(key).describe();
    for (const auto& t : f.tensors()) {
      std::vector<float> x(size_t(t.elements()));
      std::vector<uint16_t> h(x.size());
      f.read_float32(t, x);
      f.read_bf16(t, h);
    }
  });
}

bool bitwise_equal(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

}  // namespace

TEST_CASE("gguf: a small file's metadata, tensor infos and values read back") {
  test::TempDir dir("gguf-tiny");
  const auto path = dir / "tiny.gguf";
  tiny_gguf().write(path);
  const gguf::GgufFile f(path);
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.keys() == std::vector<std::string>{"general.architecture", "general.alignment", "general.file_type",
                                             "tokenizer.ggml.add_space_prefix", "tokenizer.ggml.tokens", "tokenizer.ggml.scores"});
  CHECK(f.string("general.architecture") == "tiny");
  CHECK(f.integer("general.file_type") == 7);
  CHECK(f.number("general.file_type") == 7.0);
  CHECK(f.find_bool("tokenizer.ggml.add_space_prefix") == true);
  CHECK(f.strings("tokenizer.ggml.tokens") == std::vector<std::string>{"a", "bc", "d"});
  CHECK(f.numbers("tokenizer.ggml.scores") == std::vector<double>{-1.5, 0.0, 2.25});
  CHECK(f.value("tokenizer.ggml.scores").describe() == "array of float32");
  CHECK_FALSE(f.find_string("general.name").has_value());
  CHECK_FALSE(f.find_integer("general.name").has_value());
  CHECK_FALSE(f.find_bool("general.name").has_value());

  // Type mismatches and absent keys name the key.
  const std::string p = path.string() + ": ";
  CHECK(error_of([&] { f.integer("general.architecture"); }) == p + "metadata key 'general.architecture' is string, expected an integer");
  CHECK(error_of([&] { f.find_number("tokenizer.ggml.tokens"); }) == p + "metadata key 'tokenizer.ggml.tokens' is array of string, expected a number");
  CHECK(error_of([&] { f.strings("tokenizer.ggml.scores"); }) == p + "metadata key 'tokenizer.ggml.scores' is array of float32, expected an array of strings");
  CHECK(error_of([&] { f.integers("tokenizer.ggml.scores"); }).find("expected an integer array") != std::string::npos);
  CHECK(error_of([&] { f.find_bool("general.file_type"); }) == p + "metadata key 'general.file_type' is uint32, expected a bool");
  CHECK(error_of([&] { f.value("general.name"); }) == p + "no metadata key 'general.name'");
  CHECK(error_of([&] { f.tensor("c"); }) == p + "no tensor named 'c'");

  REQUIRE(f.tensors().size() == 2);
  const auto& a = f.tensor("a");
  CHECK(a.dims == std::vector<int64_t>{4, 2});
  CHECK(a.shape() == Shape{2, 4});
  CHECK(a.elements() == 8);
  CHECK(a.size_bytes == 32);
  CHECK(f.read_float32(a) == std::vector<float>{-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, 4.5f});
  const auto& b = f.tensor("b");
  CHECK(b.type == gguf::GgmlType::Q8_0);
  CHECK(b.size_bytes == 34);
  CHECK(f.data(b).size() == 34);
  const auto bv = f.read_float32(b);
  for (int i = 0; i < 32; ++i) CHECK(bv[size_t(i)] == 0.5f * float(i - 16));
  CHECK(f.find_tensor("c") == nullptr);
  std::vector<float> wrong(7);
  CHECK(error_of([&] { f.read_float32(a, wrong); }) == p + "tensor 'a' has 8 elements, the output 7");
}

TEST_CASE("gguf: every type of quants-dev.gguf dequantizes to the gguf package's values, bit for bit") {
  const gguf::GgufFile f(kQuants);
  const io::SafetensorsFile reference(kQuantsReference);
  CHECK(f.string("general.architecture") == "bg2vec-fixture");
  CHECK(f.integer("bg2vec.fixture_seed") == 1);
  std::set<std::string> names, types;
  for (const auto& t : f.tensors()) {
    CAPTURE(t.name);
    names.insert(t.name);
    types.insert(std::string(gguf::type_name(t.type)));
    REQUIRE(reference.contains(t.name));
    CHECK(t.shape() == reference.info(t.name).shape);
    const std::vector<float> actual = f.read_float32(t), expected = reference.read_float32(t.name);
    // max |a - b| / max |b| over the tensor (test::relative_error); the bits are equal too (see gguf/dequantize.hpp).
    CHECK(test::relative_error(actual, expected) < 1e-6);
    CHECK(bitwise_equal(actual, expected));
    // The bf16 path is the float32 path rounded.
    std::vector<uint16_t> bf16(actual.size());
    f.read_bf16(t, bf16);
    size_t mismatches = 0;
    for (size_t i = 0; i < actual.size(); ++i) mismatches += bf16[i] != f32_to_bf16(actual[i]);
    CHECK(mismatches == 0);
  }
  CHECK(names.size() == reference.tensors().size());
  CHECK(types == std::set<std::string>{"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
                                       "Q4_K", "Q5_K", "Q6_K"});
}

TEST_CASE("gguf: the type table names every ggml type and knows which ones we read") {
  CHECK(gguf::type_name(gguf::GgmlType::Q4_K) == "Q4_K");
  CHECK(gguf::type_name(gguf::GgmlType::IQ2_XXS) == "IQ2_XXS");
  CHECK(gguf::find_type(30)->name == "BF16");
  CHECK(gguf::find_type(4) == nullptr);
  CHECK(gguf::retired_type_name(4) == "Q4_2");
  CHECK(gguf::is_supported(gguf::GgmlType::Q6_K));
  CHECK_FALSE(gguf::is_supported(gguf::GgmlType::IQ4_NL));
  CHECK(gguf::supported_type_names() == "F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K");
}

TEST_CASE("gguf dequantize writes the reference safetensors") {
  test::TempDir dir("gguf-cli");
  const auto out = dir / "q.safetensors";
  const test::CliRun r = test::run_cli("gguf dequantize --gguf " + kQuants.string() + " --out " + out.string(), dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("26 tensors") != std::string::npos);
  const io::SafetensorsFile written(out), reference(kQuantsReference);
  REQUIRE(written.tensors().size() == reference.tensors().size());
  for (const auto& entry : reference.tensors()) {
    const std::string& name = entry.first;   // not a structured binding: CAPTURE's lambda takes it
    const auto& info = entry.second;
    CAPTURE(name);
    REQUIRE(written.contains(name));
    CHECK(written.info(name).dtype == DType::F32);
    CHECK(written.info(name).shape == info.shape);
    CHECK(bitwise_equal(written.read_float32(name), reference.read_float32(name)));
  }
}

TEST_CASE("gguf: damaged files fail with one line naming the file and the problem") {
  test::TempDir dir("gguf-bad");
  const auto path = dir / "bad.gguf";
  const std::string prefix = path.string() + ": ";
  GgufBytes g = tiny_gguf();
  // Writes the damaged file and returns the error of opening it and reading every tensor.
  auto error = [&] {
    g.write(path);
    return read_all_error(path);
  };
  auto check_error = [&](const std::string& expected) {
    const std::string message = error();
    CAPTURE(message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  };

  SUBCASE("the undamaged file reads") { CHECK(error() == ""); }
  SUBCASE("truncated inside the magic") { g.bytes.resize(2); check_error("truncated file (2 bytes): header: magic at byte 0"); }
  SUBCASE("truncated inside the header") { g.bytes.resize(13); check_error("truncated file (13 bytes): header: tensor count at byte 8"); }
  SUBCASE("truncated where the key count does not fit") {
    g.bytes.resize(g.at["key0"] + 12);
    check_error("key count 6 is too large for the file (each key takes at least 13 bytes, 12 follow the header): truncated or damaged");
  }
  SUBCASE("truncated inside a value") {
    g.bytes.resize(g.at["add_space_prefix.value"]);
    check_error("truncated file");
    check_error("metadata key 'tokenizer.ggml.add_space_prefix': value at byte");
  }
  SUBCASE("truncated inside an array") {
    g.bytes.resize(g.at["tokens.count"] + 8 + 24);   // inside the length of the third string
    check_error("metadata key 'tokenizer.ggml.tokens': array string at byte");
  }
  SUBCASE("truncated where the tensor count does not fit") {
    g.bytes.resize(g.at["t0.dim1"] + 3);
    check_error("tensor count 2 is too large for the file");
  }
  SUBCASE("truncated inside the tensor infos") {
    g.bytes.resize(g.at["t1.offset"] + 3);
    check_error("tensor 'b': data offset at byte");
  }
  SUBCASE("truncated before the data section") { g.bytes.resize(g.at["padding"] + 1); check_error("the data section would start at byte"); }
  SUBCASE("truncated inside the data") {
    g.bytes.resize(g.bytes.size() - 5);
    check_error("tensor 'b' data (34 bytes at offset 32) runs past the end of the 61-byte data section");
  }
  SUBCASE("bad magic") { g.patch<uint32_t>("magic", 0x46554746); check_error("not a GGUF file: bad magic 0x46554746"); }
  SUBCASE("version 1") { g.patch<uint32_t>("version", 1); check_error("GGUF version 1 is not supported (only versions 2 and 3)"); }
  SUBCASE("unknown version") { g.patch<uint32_t>("version", 4); check_error("unsupported GGUF version 4"); }
  SUBCASE("a big-endian file") { g.patch<uint32_t>("version", 0x03000000); check_error("big-endian"); }
  SUBCASE("version 2 reads") { g.patch<uint32_t>("version", 2); CHECK(error() == ""); }
  SUBCASE("tensor count too large") {
    g.patch<uint64_t>("tensor_count", uint64_t(1) << 60);
    check_error("tensor count 1152921504606846976 is too large for the file");
  }
  SUBCASE("key count too large") {
    g.patch<uint64_t>("kv_count", ~uint64_t(0));
    check_error("key count 18446744073709551615 is too large for the file");
  }
  SUBCASE("string length past the end") {
    g.patch<uint64_t>("key0", uint64_t(1) << 40);
    check_error("metadata key 0: key has length 1099511627776, past the end of the file");
  }
  SUBCASE("array length past the end") {
    g.patch<uint64_t>("tokens.count", uint64_t(1) << 62);
    check_error("metadata key 'tokenizer.ggml.tokens': array of 4611686018427387904 string elements runs past the end");
  }
  SUBCASE("numeric array length past the end") {
    g.patch<uint64_t>("scores.count", 1000);
    check_error("metadata key 'tokenizer.ggml.scores': array of 1000 float32 elements runs past the end");
  }
  SUBCASE("an array of arrays") { g.patch<uint32_t>("tokens.element_type", 9); check_error("arrays of arrays are not supported"); }
  SUBCASE("unknown value type") { g.patch<uint32_t>("alignment.type", 13); check_error("metadata key 'general.alignment': unknown value type 13"); }
  SUBCASE("duplicate key") {
    std::memcpy(g.bytes.data() + g.at["file_type.key"] + 8, "general.alignment", 17);
    check_error("duplicate metadata key 'general.alignment'");
  }
  SUBCASE("alignment of the wrong type") {
    g.patch<uint32_t>("alignment.type", 5);
    check_error("metadata key 'general.alignment' is int32, expected uint32");
  }
  SUBCASE("alignment not a power of two") { g.patch<uint32_t>("alignment", 24); check_error("general.alignment is 24, expected a nonzero power of two"); }
  SUBCASE("alignment zero") { g.patch<uint32_t>("alignment", 0); check_error("general.alignment is 0"); }
  SUBCASE("duplicate tensor name") { g.bytes[g.at["t1.name"] + 8] = 'a'; check_error("duplicate tensor name 'a'"); }
  SUBCASE("no dimensions") { g.patch<uint32_t>("t0.n_dims", 0); check_error("tensor 'a': 0 dimensions, expected 1 to 4"); }
  SUBCASE("too many dimensions") { g.patch<uint32_t>("t0.n_dims", 5); check_error("tensor 'a': 5 dimensions, expected 1 to 4"); }
  SUBCASE("a zero dimension") { g.patch<uint64_t>("t0.dim1", 0); check_error("tensor 'a': dimension 1 is 0, expected a positive size"); }
  SUBCASE("a negative dimension") { g.patch<int64_t>("t0.dim1", -2); check_error("tensor 'a': dimension 1 is -2"); }
  SUBCASE("element count overflows") {
    g.patch<uint64_t>("t0.dim0", uint64_t(1) << 62);
    g.patch<uint64_t>("t0.dim1", 4);
    check_error("tensor 'a': the element count overflows int64");
  }
  SUBCASE("size larger than the file") {
    g.patch<uint64_t>("t0.dim0", uint64_t(1) << 40);
    check_error("tensor 'a' data (8796093022208 bytes at offset 0) runs past the end");
  }
  SUBCASE("first dimension not a multiple of the block size") {
    g.patch<uint64_t>("t1.dim0", 48);
    check_error("tensor 'b': first dimension 48 is not a multiple of the Q8_0 block size 32");
  }
  SUBCASE("data offset out of range") {
    g.patch<uint64_t>("t1.offset", uint64_t(1) << 20);
    check_error("tensor 'b' data (34 bytes at offset 1048576) runs past the end of the 66-byte data section");
  }
  SUBCASE("huge data offset") { g.patch<uint64_t>("t1.offset", ~uint64_t(31)); check_error("tensor 'b' data (34 bytes at offset"); }
  SUBCASE("misaligned data offset") {
    g.patch<uint64_t>("t1.offset", 36);
    check_error("tensor 'b' has data offset 36, not a multiple of the alignment 32");
  }
  SUBCASE("overlapping tensors") { g.patch<uint64_t>("t1.offset", 0); check_error("tensors 'a' and 'b' overlap in the data section"); }
  SUBCASE("unknown quantization type") { g.patch<uint32_t>("t1.type", 99); check_error("tensor 'b': unknown type id 99"); }
  SUBCASE("a type ggml has removed") { g.patch<uint32_t>("t1.type", 4); check_error("unknown type id 4 (Q4_2, which ggml has removed)"); }
  SUBCASE("a known type we do not read") {
    g.patch<uint32_t>("t1.type", uint32_t(gguf::GgmlType::IQ4_NL));   // 32 elements in 18 bytes: fits
    g.write(path);
    const gguf::GgufFile f(path);                                     // opening still works, for inspection
    CHECK(f.tensor("b").type == gguf::GgmlType::IQ4_NL);
    check_error("tensor 'b' has type IQ4_NL, which is not supported (supported: F32, F16, BF16, F64, Q4_0");
  }
}

TEST_CASE("gguf dequantize: a damaged file exits 1 with the error on stderr and writes nothing") {
  test::TempDir dir("gguf-cli-bad");
  const auto bad = dir / "bad.gguf";
  const auto out = dir / "out" / "q.safetensors";
  struct Case { const char* name; std::function<void(GgufBytes&)> damage; std::string expected; };
  const Case cases[] = {
      {"truncated", [](GgufBytes& g) { g.bytes.resize(g.at["t1.offset"]); }, "truncated file"},
      {"bad magic", [](GgufBytes& g) { g.patch<uint32_t>("magic", 0); }, "not a GGUF file: bad magic 0x00000000"},
      {"unknown type", [](GgufBytes& g) { g.patch<uint32_t>("t1.type", 99); }, "tensor 'b': unknown type id 99"},
      {"unsupported type", [](GgufBytes& g) { g.patch<uint32_t>("t1.type", uint32_t(gguf::GgmlType::IQ4_NL)); },
       "tensor 'b' has type IQ4_NL, which is not supported"},
      {"overlap", [](GgufBytes& g) { g.patch<uint64_t>("t1.offset", 0); }, "tensors 'a' and 'b' overlap"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    GgufBytes g = tiny_gguf();
    c.damage(g);
    g.write(bad);
    const test::CliRun r = test::run_cli("gguf dequantize --gguf " + bad.string() + " --out " + out.string(), dir);
    CHECK(r.status == 1);
    CHECK(r.output.rfind("bg2vec gguf dequantize: error: " + bad.string() + ": ", 0) == 0);
    CHECK(r.output.find(c.expected) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out.parent_path()));
  }
  const test::CliRun missing = test::run_cli("gguf dequantize --gguf " + (dir / "absent.gguf").string() + " --out " + out.string(), dir);
  CHECK(missing.status == 1);
  CHECK(missing.output.find("absent.gguf: cannot open") != std::string::npos);
}

TEST_CASE("gguf: random damage to a valid file gives an Error or a readable file, never a crash") {
  test::TempDir dir("gguf-fuzz");
  const auto path = dir / "fuzz.gguf";
  std::ifstream in(kQuants, std::ios::binary);
  const std::string quants((std::istreambuf_iterator<char>(in)), {});
  const gguf::GgufFile valid(kQuants);
  const size_t header = size_t(valid.data_offset());
  std::mt19937_64 rng(20240611);
  int failed = 0, read = 0;
  for (const std::string& original : {quants, tiny_gguf().bytes}) {
    const size_t span = std::min(original.size(), header);   // most damage goes where the structure is
    for (int i = 0; i < 300; ++i) {
      std::string bytes = original;
      const uint64_t r = rng();
      if (r % 4 == 0) {
        bytes.resize(rng() % bytes.size());
      } else {
        const size_t at = r % 8 == 1 ? rng() % bytes.size() : rng() % span;
        bytes[at] = char(rng() % 2 ? rng() : bytes[at] ^ (1u << (rng() % 8)));
      }
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      const std::string message = read_all_error(path);
      if (message.empty()) {
        ++read;
      } else {
        ++failed;
        CHECK(message.rfind(path.string() + ": ", 0) == 0);
      }
    }
  }
  CHECK(failed > 100);
  CHECK(read > 50);
}

}  // namespace test_gguf
