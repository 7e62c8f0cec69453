// The tokenizer rebuilt from a vocabulary: text/sentencepiece_model.hpp writes a SentencePiece ModelProto
// from plain pieces, and the rebuilt model must cut text exactly as the model it came from.
//  - The serializer alone: models rebuilt from the pieces of real sentencepiece models (the two
//    tokenizer.model files the GGUF fixtures were converted from, and a BPE and a unigram model with byte
//    fallback trained here) give the same ids on Bulgarian text and on tricky strings.
//  - Its bytes, checked field by field on a tiny model, and every refusal.
//  - From the GGUF (text/gguf_vocabulary.hpp): the tokenizers rebuilt from mistral-dev-f32.gguf and
//    gemma3-dev-f32.gguf give the ids of the tokenizer.model each was converted from; Gemma-3's
//    conventions on a small written GGUF; each bad vocabulary refused with the file and the key; and the
//    real Gemma-3-270M file when it is installed (models/, scripts/setup_model.sh).
#include <bg2vec/text/bz2_stream.hpp>
#include <bg2vec/text/gguf_vocabulary.hpp>
#include <bg2vec/text/sentencepiece_model.hpp>
#include <bg2vec/text/tokenizer.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>

#include <doctest/doctest.h>
#include <fstream>
#include <functional>
#include <sentencepiece_processor.h>
#include <sstream>
#include <unistd.h>

namespace test_gguf_tokenizer {

namespace fs = std::filesystem;
using namespace bg2vec::text;

namespace {

fs::path fixture(const std::string& relative) { return fs::path(BG2VEC_TEST_DATA) / relative; }

// A fresh directory for the suite's files, removed at exit.
struct WorkDir {
  fs::path path = fs::temp_directory_path() / ("bg2vec-test-gguf-tokenizer-" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

// The shipped Bulgarian Wikipedia sentences (data/corpus), decompressed once.
const std::vector<std::string>& sentences() {
  static const std::vector<std::string> lines = [] {
    DumpSource source(fs::path(BG2VEC_REPO_DATA) / "corpus/wikiann-bg.sentences.txt.bz2");
    std::string all, chunk(1 << 20, '\0');
    while (size_t n = source.read(chunk.data(), chunk.size())) all.append(chunk, 0, n);
    std::vector<std::string> out;
    std::istringstream in(all);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }();
  return lines;
}

// Strings where a tokenizer's handling of whitespace, bytes and odd characters shows.
const std::vector<std::string>& tricky_texts() {
  static const std::vector<std::string> texts = {
      "", " ", "  ", "   ", "\t", "\n", " \n ", "водещи   интервали", "   водещи", "крайни   ", "два  интервала\nи нов ред",
      "\tтаб\tи\tоще", "ред\n\nпразен ред\n", "windows\r\nредове", "  много    интервали    навсякъде  ",
      "emoji 🙂🎉 и 👍🏽 и 👨‍👩‍👧", "中文 日本語 한국어 ελληνικά עברית العربية", "Ѣ ѣ Ѫ ѫ Ꙋ", "Щъркелът ЁЪЬ ѝ – „цитат“ № 5 € 2½",
      "mixed Latin и Кирилица: Sofia е София, Plovdiv е Пловдив", "camelCaseИКирилица123abc", "12345 3.14159 1,000,000",
      "маска _ _ в текста", "_", "__init__", "<s> </s> <unk> <pad> като текст", "\u2581 вече екраниран ▁▁",
      "неразделим\u00a0интервал", "нулева\u200bширина", "и\u0306 (разложено й)", "\xEF\xBF\xBD замяна",
      "\xFF\xFE невалиден UTF-8 \xC3", "a", "я", "ааааааааааааааааааааааааааааааааааааааааааа", "!!!???...", "http://bg.wikipedia.org/wiki/София",
  };
  return texts;
}

// A sentencepiece model's pieces read back through SentencePieceProcessor's API, as a SentencePieceModel.
// The API cannot tell user-defined pieces from normal ones: the caller names them. Normalization must
// be identity with extra whitespace kept (true of every model here); whether a dummy prefix is added is
// read off the encoding of "x" (a leading U+2581 can only come from it).
SentencePieceModel model_from_processor(const fs::path& file, SentencePieceAlgorithm algorithm,
                                        const std::vector<std::string>& user_defined = {}) {
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load(file.string()).ok());
  SentencePieceModel m;
  m.algorithm = algorithm;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    SentencePiece p{sp.IdToPiece(id), sp.GetScore(id), PieceType::normal};
    if (sp.IsUnknown(id)) p.type = PieceType::unknown;
    else if (sp.IsControl(id)) p.type = PieceType::control;
    else if (sp.IsByte(id)) p.type = PieceType::byte;
    else if (sp.IsUnused(id)) p.type = PieceType::unused;
    else if (std::find(user_defined.begin(), user_defined.end(), p.text) != user_defined.end()) p.type = PieceType::user_defined;
    m.byte_fallback = m.byte_fallback || p.type == PieceType::byte;
    m.pieces.push_back(std::move(p));
  }
  m.add_dummy_prefix = sp.EncodeAsPieces("x").front().starts_with("\u2581");
  m.unk_id = sp.unk_id();
  m.bos_id = sp.bos_id();
  m.eos_id = sp.eos_id();
  m.pad_id = sp.pad_id();
  return m;
}

// `rebuilt` gives `original`'s ids on every text, decodes them to the same text, and has its vocabulary.
void check_same_tokenizer(const Tokenizer& rebuilt, const Tokenizer& original, const std::vector<std::string>& texts) {
  REQUIRE(rebuilt.vocab_size() == original.vocab_size());
  CHECK(rebuilt.bos_id() == original.bos_id());
  CHECK(rebuilt.eos_id() == original.eos_id());
  CHECK(rebuilt.unk_id() == original.unk_id());
  CHECK(rebuilt.pad_id() == original.pad_id());
  for (int id = 0; id < original.vocab_size(); ++id) REQUIRE(rebuilt.id_to_piece(id) == original.id_to_piece(id));
  size_t same = 0, tokens = 0;
  for (const std::string& text : texts) {
    const auto expected = original.encode(text, false, false);
    const auto ids = rebuilt.encode(text, false, false);
    tokens += expected.size();
    if (ids == expected) ++same;
    else FAIL_CHECK("ids differ on '" << text << "'");
    CHECK(rebuilt.decode(ids) == original.decode(expected));
  }
  MESSAGE(same << " of " << texts.size() << " texts (" << tokens << " tokens) give the same ids");
  CHECK(same == texts.size());
}

std::vector<std::string> test_texts(size_t begin, size_t count) {
  const auto& lines = sentences();
  REQUIRE(lines.size() >= begin + count);
  std::vector<std::string> texts(lines.begin() + long(begin), lines.begin() + long(begin + count));
  // Several sentences in one text, so that pieces meet across sentence ends too.
  for (size_t i = begin; i + 3 < begin + count; i += 200) texts.push_back(lines[i] + " " + lines[i + 1] + "\n" + lines[i + 2]);
  texts.insert(texts.end(), tricky_texts().begin(), tricky_texts().end());
  return texts;
}

const WorkDir& work_dir() {
  static const WorkDir dir;
  return dir;
}

// A BPE (or unigram) model with byte fallback and the user-defined mask piece "_", trained on the first
// 4000 shipped sentences (the texts compared are later ones).
fs::path trained_model(const std::string& type) {
  static std::map<std::string, fs::path> models;
  auto& path = models[type];
  if (path.empty()) {
    const fs::path text = work_dir() / "train.txt";
    if (!fs::exists(text)) {
      std::ofstream out(text);
      for (size_t i = 0; i < 4000; ++i) out << sentences()[i] << '\n';
    }
    TokenizerTrainOptions options;
    options.vocab_size = type == "bpe" ? 1000 : 800;
    options.model_type = type;
    path = work_dir() / (type + ".model");
    train_tokenizer(text, path, options);
  }
  return path;
}

std::string bytes_of(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += char(uint8_t(b));
  return s;
}

// The smallest valid model: <unk>, "a", with the given changes.
SentencePieceModel tiny_model(const std::function<void(SentencePieceModel&)>& change = {}) {
  SentencePieceModel m;
  m.pieces = {{"<unk>", 0.0f, PieceType::unknown}, {"a", -1.5f, PieceType::normal}};
  m.unk_id = 0;
  m.add_dummy_prefix = false;
  if (change) change(m);
  return m;
}

SentencePieceModel with_bytes(SentencePieceModel m) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    m.pieces.push_back({std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0.0f, PieceType::byte});
  m.byte_fallback = true;
  return m;
}

}  // namespace

TEST_CASE("serialize: the wire bytes of a tiny model, field by field, and sentencepiece loads them") {
  const std::string bytes = serialize(tiny_model());
  // pieces = 1: {piece = 1, score = 2 (fixed32, little-endian), type = 3}
  std::string expected = bytes_of({0x0A, 14, 0x0A, 5}) + "<unk>" + bytes_of({0x15, 0, 0, 0, 0, 0x18, 2});
  expected += bytes_of({0x0A, 10, 0x0A, 1}) + "a" + bytes_of({0x15, 0x00, 0x00, 0xC0, 0xBF, 0x18, 1});   // -1.5f
  // trainer_spec = 2: model_type 3 (BPE = 2), vocab_size 4, byte_fallback 35, unk/bos/eos/pad ids 40..43
  // (-1 as ten bytes, as protobuf writes a negative int32), unk_piece 45.
  const std::string minus_one = bytes_of({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
  std::string trainer = bytes_of({0x18, 2, 0x20, 2, 0x98, 0x02, 0, 0xC0, 0x02, 0});
  trainer += bytes_of({0xC8, 0x02}) + minus_one + bytes_of({0xD0, 0x02}) + minus_one + bytes_of({0xD8, 0x02}) + minus_one;
  trainer += bytes_of({0xEA, 0x02, 5}) + "<unk>";
  expected += bytes_of({0x12, int(trainer.size())}) + trainer;
  // normalizer_spec = 3: name 1 "identity", precompiled_charsmap 2 (empty), add_dummy_prefix 3,
  // remove_extra_whitespaces 4, escape_whitespaces 5.
  const std::string normalizer = bytes_of({0x0A, 8}) + "identity" + bytes_of({0x12, 0, 0x18, 0, 0x20, 0, 0x28, 1});
  expected += bytes_of({0x1A, int(normalizer.size())}) + normalizer;
  CHECK(bytes == expected);

  const Tokenizer tok = Tokenizer::from_serialized(bytes, "tiny");
  CHECK(tok.path() == "tiny");
  CHECK(tok.vocab_size() == 2);
  CHECK(tok.unk_id() == 0);
  CHECK(tok.bos_id() == -1);
  CHECK(tok.eos_id() == -1);
  CHECK(tok.encode("a") == std::vector<int32_t>{1});
  CHECK(tok.encode("b") == std::vector<int32_t>{0});
  CHECK(tok.encode("aba") == std::vector<int32_t>{1, 0, 1});
}

TEST_CASE("serialize: special pieces by id, dummy prefix and whitespace settings reach sentencepiece") {
  auto m = tiny_model([](SentencePieceModel& m) {
    m.pieces = {{"<pad>", 0, PieceType::control}, {"<eos>", 0, PieceType::control}, {"<bos>", 0, PieceType::control},
                {"<unk>", 0, PieceType::unknown}, {"a", -1, PieceType::normal}, {"\u2581", -2, PieceType::normal},
                {"\u2581a", -3, PieceType::normal}, {"<s>", -4, PieceType::user_defined}};
    m.unk_id = 3;
    m.bos_id = 2;
    m.eos_id = 1;
    m.pad_id = 0;
  });
  const Tokenizer plain = Tokenizer::from_serialized(serialize(m), "no-prefix");
  CHECK(plain.bos_id() == 2);   // found by the text "<bos>", not sentencepiece's default "<s>"
  CHECK(plain.eos_id() == 1);
  CHECK(plain.pad_id() == 0);
  CHECK(plain.unk_id() == 3);
  CHECK(plain.encode("a", true, true) == std::vector<int32_t>{2, 4, 1});
  CHECK(plain.encode("a  a", false) == std::vector<int32_t>{4, 5, 6});   // extra whitespace kept
  CHECK(plain.encode("<s>a", false) == std::vector<int32_t>{7, 4});      // user-defined: one piece
  m.add_dummy_prefix = true;
  const Tokenizer prefixed = Tokenizer::from_serialized(serialize(m), "prefix");
  CHECK(prefixed.encode("a", false) == std::vector<int32_t>{6});
  CHECK(prefixed.decode(prefixed.encode("a  a")) == "a  a");
  m.remove_extra_whitespaces = true;
  CHECK(Tokenizer::from_serialized(serialize(m), "squeezed").encode(" a  a ", false) == std::vector<int32_t>{6, 6});
}

TEST_CASE("serialize: byte fallback spells what the vocabulary lacks as <0xHH> pieces") {
  const Tokenizer tok = Tokenizer::from_serialized(serialize(with_bytes(tiny_model())), "bytes");
  const auto ids = tok.encode("aя", false);
  REQUIRE(ids.size() == 3);   // "a", then the two bytes of "я" (D1 8F)
  CHECK(tok.id_to_piece(ids[1]) == "<0xD1>");
  CHECK(tok.id_to_piece(ids[2]) == "<0x8F>");
  CHECK(tok.decode(ids) == "aя");
}

TEST_CASE("rebuilt from their own pieces, sentencepiece models give their ids on Bulgarian text and tricky strings") {
  struct Case {
    fs::path file;
    SentencePieceAlgorithm algorithm;
    std::vector<std::string> user_defined;
    int expect_dummy_prefix;   // -1: not checked
  };
  const std::vector<Case> cases = {
      {fixture("gguf/tokenizers/mistral-dev.model"), SentencePieceAlgorithm::bpe, {}, 1},
      {fixture("gguf/tokenizers/gemma3-dev.model"), SentencePieceAlgorithm::bpe, {}, 0},
      {trained_model("bpe"), SentencePieceAlgorithm::bpe, {std::string(mask_piece)}, 1},
      {trained_model("unigram"), SentencePieceAlgorithm::unigram, {std::string(mask_piece)}, 1},
  };
  const auto texts = test_texts(4000, 3000);
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const SentencePieceModel m = model_from_processor(c.file, c.algorithm, c.user_defined);
    if (c.expect_dummy_prefix >= 0) CHECK(m.add_dummy_prefix == bool(c.expect_dummy_prefix));
    const Tokenizer original(c.file);
    const Tokenizer rebuilt = Tokenizer::from_serialized(serialize(m), "rebuilt " + c.file.filename().string());
    check_same_tokenizer(rebuilt, original, texts);
    if (m.byte_fallback) CHECK(rebuilt.encode("Ѣ", false).size() >= 2);   // a rare letter: bytes, not <unk>

    // Saved as a tokenizer.model, it loads from the file as any other.
    const fs::path saved = work_dir() / ("saved-" + c.file.filename().string());
    rebuilt.save(saved);
    const Tokenizer reloaded(saved);
    CHECK(reloaded.encode(texts[0]) == original.encode(texts[0]));
    CHECK(reloaded.serialized() == rebuilt.serialized());
  }
}

TEST_CASE("validate: each thing sentencepiece would refuse or misread is an error naming the model and the piece") {
  using Change = std::function<void(SentencePieceModel&)>;
  const std::vector<std::pair<Change, std::string>> refusals = {
      {[](SentencePieceModel& m) { m.pieces.clear(); }, "the vocabulary has no pieces"},
      {[](SentencePieceModel& m) { m.pieces[1].text = ""; }, "piece 1 is empty"},
      {[](SentencePieceModel& m) { m.pieces[1].text = std::string("a\0b", 3); }, "piece 1 ('a\\x00b') contains a NUL character"},
      {[](SentencePieceModel& m) { m.pieces[1].text = "\xD0"; }, "piece 1 ('\\xD0') is not valid UTF-8"},
      {[](SentencePieceModel& m) { m.pieces[1].text = "\xC0\xAF"; }, "piece 1 ('\\xC0\\xAF') is not valid UTF-8"},   // overlong '/'
      {[](SentencePieceModel& m) { m.pieces.push_back({"a", -2, PieceType::normal}); }, "piece 2 ('a') duplicates piece 1"},
      {[](SentencePieceModel& m) { m.pieces[1].score = NAN; }, "piece 1 ('a') has a score that is not finite"},
      {[](SentencePieceModel& m) { m.pieces[1].score = -INFINITY; }, "piece 1 ('a') has a score that is not finite"},
      {[](SentencePieceModel& m) { m.pieces[0].type = PieceType::control; }, "no unknown piece (sentencepiece needs exactly one)"},
      {[](SentencePieceModel& m) { m.pieces[1].type = PieceType::unknown; }, "more than one unknown piece: piece 0 ('<unk>') and piece 1 ('a')"},
      {[](SentencePieceModel& m) { m.unk_id = 1; }, "unk id 1 is not the unknown piece, piece 0 ('<unk>')"},
      {[](SentencePieceModel& m) { m.unk_id = -1; }, "unk id -1 is not the unknown piece"},
      {[](SentencePieceModel& m) { m.bos_id = 2; }, "bos id 2 is outside the vocabulary of 2"},
      {[](SentencePieceModel& m) { m.eos_id = -2; }, "eos id -2 is outside the vocabulary of 2"},
      {[](SentencePieceModel& m) { m.pad_id = 7; }, "pad id 7 is outside the vocabulary of 2"},
      {[](SentencePieceModel& m) { m.pieces[1].type = PieceType(9); }, "piece 1 has type 9, not one of 1..6"},
      {[](SentencePieceModel& m) { m.algorithm = SentencePieceAlgorithm(7); }, "model type 7 is not one of sentencepiece's"},
      {[](SentencePieceModel& m) { m.pieces.push_back({"<0x41>", 0, PieceType::byte}); }, "piece 2 ('<0x41>') is a byte piece, but byte fallback is off"},
      {[](SentencePieceModel& m) { m = with_bytes(m); m.pieces.back().text = "<0xff>"; }, "piece 257 ('<0xff>') is typed byte but is not spelled <0xHH>"},
      {[](SentencePieceModel& m) { m = with_bytes(m); m.pieces.pop_back(); }, "byte fallback needs all 256 byte pieces; <0xFF> is missing"},
      {[](SentencePieceModel& m) { m.byte_fallback = true; }, "byte fallback needs all 256 byte pieces; <0x00> is missing"},
  };
  for (const auto& refusal : refusals) {
    const auto& change = refusal.first;
    const std::string& message = refusal.second;
    CAPTURE(message);   // not a structured binding: clang 14 cannot capture one in CAPTURE's lambda
    CHECK_THROWS_WITH_AS(serialize(tiny_model(change), "bad.gguf"), doctest::Contains(("bad.gguf: " + message).c_str()), bg2vec::Error);
  }
  CHECK_NOTHROW(validate(tiny_model()));
  CHECK_NOTHROW(validate(with_bytes(tiny_model())));
  CHECK_NOTHROW(validate(tiny_model([](SentencePieceModel& m) { m.pieces[1].text = "\xEF\xBF\xBD"; })));   // a real U+FFFD
}

// Found by tests/fuzz/fuzz_sentencepiece_model.cpp: models that validate() passed but sentencepiece cannot use.
TEST_CASE("regression (fuzz_sentencepiece_model): a one-character control piece in a BPE or char model, a unigram model without normal pieces") {
  const std::string texts[] = {"София <s> a", "\u2581 b"};
  for (const SentencePieceAlgorithm algorithm : {SentencePieceAlgorithm::bpe, SentencePieceAlgorithm::character}) {
    for (const std::string piece : {"<", "С", "\u2581"}) {
      CAPTURE(piece);
      const SentencePieceModel m = with_bytes(tiny_model([&](SentencePieceModel& m) {
        m.algorithm = algorithm;
        m.pieces.push_back({piece, 0.0f, PieceType::control});
      }));
      // sentencepiece loads it, then fails on text with the character ("all normalized characters are not consumed")
      CHECK_THROWS_WITH_AS(serialize(m, "one.gguf"), doctest::Contains(("one.gguf: piece 2 ('" + piece + "') is a control piece of one character").c_str()),
                           bg2vec::Error);
    }
    // Longer control pieces are fine, and so is the same piece typed normal.
    for (const PieceType type : {PieceType::control, PieceType::normal}) {
      const SentencePieceModel m = with_bytes(tiny_model([&](SentencePieceModel& m) {
        m.algorithm = algorithm;
        m.pieces.push_back({type == PieceType::control ? "<s>" : "<", 0.0f, type});
      }));
      const Tokenizer t = Tokenizer::from_serialized(serialize(m), "ok");
      for (const std::string& text : texts) CHECK_NOTHROW(t.encode(text));
    }
  }
  const SentencePieceModel unigram = tiny_model([](SentencePieceModel& m) {
    m.algorithm = SentencePieceAlgorithm::unigram;
    m.pieces[1].type = PieceType::control;
  });
  CHECK_THROWS_WITH_AS(serialize(unigram, "u.gguf"), doctest::Contains("u.gguf: a unigram model needs at least one normal"), bg2vec::Error);
  SentencePieceModel with_normal = unigram;
  with_normal.pieces[1].type = PieceType::normal;
  CHECK_NOTHROW(Tokenizer::from_serialized(serialize(with_normal), "ok").encode("a"));
}

TEST_CASE("Tokenizer::from_serialized: bytes that are not a model are an error naming the model") {
  CHECK_THROWS_WITH_AS(Tokenizer::from_serialized("not a model", "vocab of x.gguf"),
                       doctest::Contains("vocab of x.gguf: not a sentencepiece model"), bg2vec::Error);
}

// ---------------------------------------------------------------------------------------------------
// From the GGUF: text/gguf_vocabulary.hpp.

namespace {

// A GGUF file with metadata only (version 3, no tensors), for vocabularies made to fail.
class GgufWriter {
 public:
  GgufWriter& string(const std::string& key, const std::string& value) {
    this->key(key, 8);
    str(value);
    return *this;
  }
  GgufWriter& u32(const std::string& key, uint32_t value) {
    this->key(key, 4);
    raw(value);
    return *this;
  }
  GgufWriter& boolean(const std::string& key, bool value) {
    this->key(key, 7);
    raw(uint8_t(value));
    return *this;
  }
  GgufWriter& strings(const std::string& key, const std::vector<std::string>& values) {
    array(key, 8, values.size());
    for (const auto& v : values) str(v);
    return *this;
  }
  GgufWriter& f32s(const std::string& key, const std::vector<float>& values) {
    array(key, 6, values.size());
    for (float v : values) raw(v);
    return *this;
  }
  GgufWriter& i32s(const std::string& key, const std::vector<int32_t>& values) {
    array(key, 5, values.size());
    for (int32_t v : values) raw(v);
    return *this;
  }
  fs::path write(const fs::path& path) const {
    std::string out = "GGUF";
    const auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(uint32_t(3));
    put(uint64_t(0));
    put(uint64_t(keys_));
    out += body_;
    out.append((32 - out.size() % 32) % 32, '\0');
    std::ofstream(path, std::ios::binary).write(out.data(), std::streamsize(out.size()));
    return path;
  }

 private:
  template <class T>
  void raw(T v) { body_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) {
    raw(uint64_t(s.size()));
    body_ += s;
  }
  void key(const std::string& k, uint32_t type) {
    str(k);
    raw(type);
    ++keys_;
  }
  void array(const std::string& k, uint32_t element_type, size_t count) {
    key(k, 9);
    raw(element_type);
    raw(uint64_t(count));
  }
  std::string body_;
  size_t keys_ = 0;
};

// A small vocabulary in the shape of Gemma-3's: specials first (its <unk> typed control, found by
// unknown_token_id), whitespace runs stored with real spaces as user-defined pieces, byte pieces, then
// normal pieces with merge scores.
struct VocabularySpec {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  void add(std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  }
};

VocabularySpec gemma_like_vocabulary() {
  VocabularySpec v;
  v.add("<pad>", -1000, 3);
  v.add("<eos>", -1000, 3);
  v.add("<bos>", -1000, 3);
  v.add("<unk>", -1000, 3);
  v.add("  ", -1000, 4);
  v.add("   ", -1000, 4);
  v.add("\n", -1000, 4);
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) v.add(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0, 6);
  float score = 0;
  for (const char* piece : {"\u2581", "а", "б", "\u2581а", "аб", "\u2581аб", "\u2581б"}) v.add(piece, score--, 1);
  return v;
}

GgufWriter gguf_with(const VocabularySpec& v, const std::string& model = "llama", uint32_t unk = 3, uint32_t bos = 2) {
  GgufWriter w;
  w.string("general.architecture", "gemma3").string("tokenizer.ggml.model", model);
  w.strings("tokenizer.ggml.tokens", v.tokens).f32s("tokenizer.ggml.scores", v.scores).i32s("tokenizer.ggml.token_type", v.types);
  w.u32("tokenizer.ggml.bos_token_id", bos).u32("tokenizer.ggml.eos_token_id", 1).u32("tokenizer.ggml.unknown_token_id", unk);
  w.u32("tokenizer.ggml.padding_token_id", 0).boolean("tokenizer.ggml.add_space_prefix", false);
  return w;
}

// The fixture GGUF files and the tokenizer.model each was converted from.
fs::path fixture_gguf(const std::string& name) {
  const fs::path path = fixture("gguf/" + name);
  REQUIRE_MESSAGE(fs::exists(path), path);
  return path;
}

fs::path real_gemma3_gguf() { return fs::path(BG2VEC_REPO_DATA) / "../models/gemma3-270m/gemma-3-270m-q4_k_m.gguf"; }

}  // namespace

TEST_CASE("from the GGUF: the fixtures' rebuilt tokenizers give the ids of the tokenizer.model they came from") {
  const auto texts = test_texts(0, 3000);
  for (const auto& names : {std::pair<std::string, std::string>{"mistral-dev-f32.gguf", "mistral-dev.model"},
                            {"gemma3-dev-f32.gguf", "gemma3-dev.model"}}) {
    const std::string& gguf_name = names.first;
    const std::string& model_name = names.second;
    CAPTURE(gguf_name);
    const bg2vec::gguf::GgufFile file(fixture_gguf(gguf_name));
    const Tokenizer rebuilt = tokenizer_from_gguf(file);
    const Tokenizer original(fixture("gguf/tokenizers/" + model_name));
    CHECK(rebuilt.path() == file.path());
    check_same_tokenizer(rebuilt, original, texts);
    size_t round_trips = 0;
    for (const std::string& text : texts) round_trips += rebuilt.decode(rebuilt.encode(text)) == original.decode(original.encode(text));
    CHECK(round_trips == texts.size());
    const SentencePieceModel m = sentencepiece_from_gguf(file);
    CHECK_FALSE(m.byte_fallback);
    CHECK(m.add_dummy_prefix == (gguf_name == "mistral-dev-f32.gguf"));   // gemma3-dev: add_space_prefix false
    const GgufTokenizerFlags flags = tokenizer_flags_from_gguf(file);
    CHECK(flags.add_bos);
    CHECK_FALSE(flags.add_eos);
  }
}

TEST_CASE("from the GGUF: Gemma-3's conventions (control <unk>, whitespace runs with real spaces, byte pieces)") {
  const fs::path path = gguf_with(gemma_like_vocabulary()).write(work_dir() / "gemma-like.gguf");
  const bg2vec::gguf::GgufFile file(path);
  const SentencePieceModel m = sentencepiece_from_gguf(file);
  CHECK(m.pieces[3].type == PieceType::unknown);
  CHECK(m.pieces[4].text == "\u2581\u2581");
  CHECK(m.pieces[5].text == "\u2581\u2581\u2581");
  CHECK(m.byte_fallback);
  CHECK_FALSE(m.add_dummy_prefix);
  const Tokenizer tok = tokenizer_from_gguf(file);
  CHECK(tok.unk_id() == 3);
  CHECK(tok.bos_id() == 2);
  CHECK(tok.eos_id() == 1);
  CHECK(tok.pad_id() == 0);
  const int ab = tok.piece_to_id("аб"), space_ab = tok.piece_to_id("\u2581аб"), b = tok.piece_to_id("б");
  CHECK(tok.encode("аб   б\nаб", false) ==
        std::vector<int32_t>{ab, 5, b, 6, ab});   // "   " is one user-defined piece: it matches once respelled
  CHECK(tok.encode("аб аб", true, true) == std::vector<int32_t>{2, ab, space_ab, 1});
  const auto ids = tok.encode("аяб", false);   // я is not in the vocabulary: its two bytes
  REQUIRE(ids.size() == 4);
  CHECK(tok.id_to_piece(ids[1]) == "<0xD1>");
  CHECK(tok.decode(ids) == "аяб");
  for (std::string text : {"аб  аб", "   ", "\n\n", "а б\tв 🙂"}) CHECK(tok.decode(tok.encode(text)) == text);

  // Written as a tokenizer.model, it is an ordinary sentencepiece model file.
  tok.save(work_dir() / "gemma-like.model");
  CHECK(Tokenizer(work_dir() / "gemma-like.model").encode("аб   б") == tok.encode("аб   б"));
}

TEST_CASE("from the GGUF: each bad vocabulary is an error naming the file and the key") {
  using Change = std::function<void(VocabularySpec&, std::string& model)>;
  struct Refusal {
    std::string name;
    std::function<GgufWriter()> make;
    std::string message;
  };
  const auto base = gemma_like_vocabulary();
  const auto changed = [&](const Change& change) {
    return [=] {
      VocabularySpec v = base;
      std::string model = "llama";
      change(v, model);
      return gguf_with(v, model);
    };
  };
  const std::vector<Refusal> refusals = {
      {"no-model", [] { return GgufWriter().string("general.architecture", "llama"); },
       "no tokenizer: missing metadata key 'tokenizer.ggml.model'"},
      {"gpt2", changed([](VocabularySpec&, std::string& model) { model = "gpt2"; }),
       "metadata key 'tokenizer.ggml.model' is 'gpt2': only 'llama' (a SentencePiece vocabulary) can be rebuilt"},
      {"no-tokens", [] { return GgufWriter().string("tokenizer.ggml.model", "llama"); },
       "no tokenizer: missing metadata key 'tokenizer.ggml.tokens'"},
      {"no-scores",
       [&] { return GgufWriter().string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", base.tokens).i32s("tokenizer.ggml.token_type", base.types); },
       "no tokenizer: missing metadata key 'tokenizer.ggml.scores'"},
      {"no-types",
       [&] { return GgufWriter().string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", base.tokens).f32s("tokenizer.ggml.scores", base.scores); },
       "no tokenizer: missing metadata key 'tokenizer.ggml.token_type'"},
      {"tokens-not-strings",
       [&] { return GgufWriter().string("tokenizer.ggml.model", "llama").i32s("tokenizer.ggml.tokens", base.types).f32s("tokenizer.ggml.scores", base.scores).i32s("tokenizer.ggml.token_type", base.types); },
       "metadata key 'tokenizer.ggml.tokens' is array of int32, expected an array of strings"},
      {"short-scores", changed([](VocabularySpec& v, std::string&) { v.scores.pop_back(); }),
       "metadata key 'tokenizer.ggml.scores' has 269 entries, but 'tokenizer.ggml.tokens' has 270"},
      {"long-types", changed([](VocabularySpec& v, std::string&) { v.types.push_back(1); }),
       "metadata key 'tokenizer.ggml.token_type' has 271 entries, but 'tokenizer.ggml.tokens' has 270"},
      {"type-0", changed([](VocabularySpec& v, std::string&) { v.types[265] = 0; }),
       "metadata key 'tokenizer.ggml.token_type' gives token 265 the type 0, not one of 1 normal"},
      {"no-unknown",
       [&] {
         return GgufWriter().string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", base.tokens)
             .f32s("tokenizer.ggml.scores", base.scores).i32s("tokenizer.ggml.token_type", base.types);
       },
       "no unknown token: none has type 2 in 'tokenizer.ggml.token_type' and there is no 'tokenizer.ggml.unknown_token_id'"},
      {"two-unknowns", changed([](VocabularySpec& v, std::string&) { v.types[265] = 2; }),
       "metadata key 'tokenizer.ggml.unknown_token_id' is 3, but token 265 is the one typed unknown (2)"},
      {"unk-out-of-range", [&] { return gguf_with(base, "llama", 270); },
       "metadata key 'tokenizer.ggml.unknown_token_id' is 270, outside the vocabulary of 270 tokens"},
      {"bos-out-of-range", [&] { return gguf_with(base, "llama", 3, 1000); },
       "metadata key 'tokenizer.ggml.bos_token_id' is 1000, outside the vocabulary of 270 tokens"},
      {"duplicate", changed([](VocabularySpec& v, std::string&) { v.tokens[267] = "а"; }),
       "piece 267 ('а') duplicates piece 264"},
      {"duplicate-after-respelling", changed([](VocabularySpec& v, std::string&) { v.tokens[267] = " а"; }),
       "piece 267 ('\u2581а') duplicates piece 266"},
      {"empty-piece", changed([](VocabularySpec& v, std::string&) { v.tokens[267] = ""; }), "piece 267 is empty"},
      {"nan-score", changed([](VocabularySpec& v, std::string&) { v.scores[267] = NAN; }), "piece 267 ('аб') has a score that is not finite"},
      {"missing-byte", changed([](VocabularySpec& v, std::string&) { v.types[7 + 0x41] = 1; }),
       "byte fallback needs all 256 byte pieces; <0x41> is missing"},
  };
  for (const Refusal& r : refusals) {
    CAPTURE(r.name);
    const fs::path path = work_dir() / ("bad-" + r.name + ".gguf");
    const bg2vec::gguf::GgufFile file(r.make().write(path));
    CHECK_THROWS_WITH_AS(tokenizer_from_gguf(file), doctest::Contains((path.string() + ": " + r.message).c_str()), bg2vec::Error);
  }
}

TEST_CASE("the real Gemma-3-270M GGUF: its rebuilt tokenizer cuts Bulgarian and English text sensibly") {
  const fs::path path = real_gemma3_gguf();
  if (!fs::exists(path)) {
    MESSAGE("skipped: " << path << " is not installed (bash scripts/setup_model.sh)");
    return;
  }
  const bg2vec::gguf::GgufFile file(path);
  const Tokenizer tok = tokenizer_from_gguf(file);
  CHECK(tok.vocab_size() == 262144);
  CHECK(tok.bos_id() == 2);
  CHECK(tok.eos_id() == 1);
  CHECK(tok.unk_id() == 3);
  CHECK(tok.pad_id() == 0);
  const GgufTokenizerFlags flags = tokenizer_flags_from_gguf(file);
  CHECK(flags.add_bos);
  CHECK_FALSE(flags.add_eos);

  // Round trips, and no <unk>: byte fallback covers whatever the vocabulary lacks. (Not the texts that
  // no sentencepiece model gives back: a literal U+2581 decodes as a space, invalid UTF-8 as U+FFFD.)
  std::vector<std::string> texts;
  for (const std::string& text : test_texts(0, 2000))
    if (text.find("\u2581") == std::string::npos && sentencepiece_detail::valid_utf8(text)) texts.push_back(text);
  for (const char* english : {"The quick brown fox jumps over the lazy dog.", "Sofia is the capital and largest city of Bulgaria.",
                              "  Indented code:\n\tif (x) {\n\t\treturn 42;\n\t}\n", "E = mc^2, and 3.14159 is pi."})
    texts.push_back(english);
  size_t tokens = 0, characters = 0;
  for (const std::string& text : texts) {
    const auto ids = tok.encode(text);
    REQUIRE(ids.front() == tok.bos_id());
    CHECK_MESSAGE(tok.decode(ids) == text, text);
    CHECK(std::find(ids.begin(), ids.end(), tok.unk_id()) == ids.end());
    tokens += ids.size() - 1;
    for (size_t pos = 0; pos < text.size();) bg2vec::next_code_point(text, pos), ++characters;
  }
  MESSAGE(texts.size() << " texts: " << characters << " characters in " << tokens << " tokens (" << double(characters) / double(tokens) << " characters per token)");
  CHECK(double(characters) / double(tokens) > 2.0);   // a multilingual vocabulary: words and stems, not letters or bytes

  // Common Bulgarian and English words are one or two pieces (no dummy prefix: add_space_prefix is false).
  CHECK(tok.encode("София", false).size() <= 2);
  CHECK(tok.encode(" София", false).size() <= 2);
  CHECK(tok.encode(" България", false).size() <= 2);
  CHECK(tok.encode(" the", false).size() == 1);
  CHECK(tok.decode(tok.encode(" София", false)) == " София");
  // Whitespace runs are Gemma's user-defined pieces (stored with real spaces in the GGUF: respelled).
  CHECK(tok.encode("a    b", false).size() == 3);
  CHECK(tok.id_to_piece(tok.encode("a    b", false)[1]) == "\u2581\u2581\u2581\u2581");
  CHECK(tok.encode("\n\n", false) == std::vector<int32_t>{108});
  // Characters outside the vocabulary are their UTF-8 bytes: the old Bulgarian letter yat (D1 A2) and
  // a private-use character of plane 16 (F4 8F BF BD).
  const auto yat = tok.encode("Ѣ", false);
  REQUIRE(yat.size() == 2);
  CHECK(tok.id_to_piece(yat[0]) == "<0xD1>");
  CHECK(tok.id_to_piece(yat[1]) == "<0xA2>");
  CHECK(tok.encode("\U0010FFFD", false).size() == 4);
  CHECK(tok.decode(tok.encode("пѢсъкъ \U0010FFFD")) == "пѢсъкъ \U0010FFFD");
  // Control pieces are never cut from text: the literal "<start_of_turn>" is several pieces, not id 105
  // (llama.cpp and transformers may parse it as the control token; ours, as sentencepiece does, do not).
  CHECK(tok.encode("<start_of_turn>", false).size() > 1);
  CHECK(tok.id_to_piece(105) == "<start_of_turn>");
}

}  // namespace test_gguf_tokenizer
