#pragma once
// A SentencePiece model described in plain C++ (its pieces and the few settings that change how text is
// cut), and its serialization as the `ModelProto` protobuf message that the sentencepiece library loads
// (a tokenizer.model file). Written for vocabularies that arrive without a tokenizer.model, such as a
// GGUF file's (see text/gguf_vocabulary.hpp): no libprotobuf, only the protobuf wire format of the
// fields below (field numbers from sentencepiece's sentencepiece_model.proto):
//
//   ModelProto      pieces = 1 (repeated SentencePiece), trainer_spec = 2, normalizer_spec = 3
//   SentencePiece   piece = 1 (string), score = 2 (float), type = 3 (enum)
//   TrainerSpec     model_type = 3, vocab_size = 4, byte_fallback = 35,
//                   unk_id = 40, bos_id = 41, eos_id = 42, pad_id = 43,
//                   unk_piece = 45, bos_piece = 46, eos_piece = 47, pad_piece = 48
//   NormalizerSpec  name = 1, precompiled_charsmap = 2, add_dummy_prefix = 3,
//                   remove_extra_whitespaces = 4, escape_whitespaces = 5
//
// Normalization is always sentencepiece's "identity" rule (no precompiled charsmap: text is not
// rewritten, only spaces escaped as U+2581 and the dummy prefix added when asked for).
//
// What sentencepiece requires of a model, checked by validate() before anything is written, so that a
// bad vocabulary is one clear bg2vec::Error instead of a refusal deep inside the library:
//  - at least one piece; every piece non-empty, valid UTF-8, without NUL, unique;
//  - exactly one UNKNOWN piece, and unk_id is its id;
//  - finite scores;
//  - BYTE pieces only with byte_fallback, each spelled <0xHH> (upper-case hex), and with byte_fallback
//    all 256 of them;
//  - bos/eos/pad ids -1 (none) or inside the vocabulary;
//  - no control piece of one character in a BPE or char model (sentencepiece then fails to encode any text
//    that contains the character), and some normal, user-defined or unused piece in a unigram model
//    (otherwise sentencepiece loads "no pieces").
// Note that sentencepiece finds bos/eos/pad by their piece text (written as bos_piece etc.) and reports
// them only when that piece is CONTROL (and unk only when UNKNOWN); a bos id on a NORMAL piece is written
// but SentencePieceProcessor::bos_id() says -1.
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/utf8.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace bg2vec::text {

// ModelProto.SentencePiece.Type, with sentencepiece's (and GGUF's token_type) numbers.
enum class PieceType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

// TrainerSpec.ModelType.
enum class SentencePieceAlgorithm : int32_t { unigram = 1, bpe = 2, word = 3, character = 4 };

struct SentencePiece {
  std::string text;                    // spaces spelled as U+2581, as sentencepiece stores them
  float score = 0;                     // BPE: merge priority (higher first); unigram: log probability
  PieceType type = PieceType::normal;
};

struct SentencePieceModel {
  std::vector<SentencePiece> pieces;   // id = index
  SentencePieceAlgorithm algorithm = SentencePieceAlgorithm::bpe;
  bool byte_fallback = false;          // unknown characters as <0xHH> byte pieces instead of unk
  bool add_dummy_prefix = true;        // a space before the text ("world" cut as in "hello world")
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;      // spaces as U+2581
  int32_t unk_id = -1;                 // the UNKNOWN piece (required)
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;   // -1: none
};

inline std::string_view piece_type_name(PieceType type) {
  switch (type) {
    case PieceType::normal: return "normal";
    case PieceType::unknown: return "unknown";
    case PieceType::control: return "control";
    case PieceType::user_defined: return "user-defined";
    case PieceType::unused: return "unused";
    case PieceType::byte: return "byte";
  }
  return "invalid";
}

namespace sentencepiece_detail {

inline bool valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    // U+FFFD is what the decoder returns for malformed input; a real U+FFFD is three bytes EF BF BD.
    if (cp == U'\uFFFD' && text.substr(start, pos - start) != "\xEF\xBF\xBD") return false;
  }
  return true;
}

// Printable form of a piece for error messages: control characters (and every non-ASCII byte of text that
// is not valid UTF-8) escaped as \xHH, long pieces cut.
inline std::string shown(std::string_view piece) {
  const bool escape_high = !valid_utf8(piece);
  std::string out = "'";
  for (size_t i = 0; i < piece.size() && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(piece[i]);
    if (c < 0x20 || c == 0x7F || (escape_high && c >= 0x80)) {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (piece.size() > 64) out += "...";
  return out + "'";
}

// The byte a piece <0xHH> stands for, or -1.
inline int byte_of_piece(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return -1;
  const auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  const int hi = digit(piece[3]), lo = digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Protobuf wire format: a tag is (field << 3) | wire type; 0 varint, 2 length-delimited, 5 fixed32.
class Writer {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += char(uint8_t(v) | 0x80);
      v >>= 7;
    }
    out_ += char(uint8_t(v));
  }
  void tag(uint32_t field, uint32_t wire_type) { varint(uint64_t(field) << 3 | wire_type); }
  // int32 and enum values: negative ones are sign-extended to 64 bits (ten bytes), as protobuf does.
  void int32_field(uint32_t field, int32_t v) {
    tag(field, 0);
    varint(uint64_t(int64_t(v)));
  }
  void bool_field(uint32_t field, bool v) {
    tag(field, 0);
    varint(v ? 1 : 0);
  }
  void bytes_field(uint32_t field, std::string_view bytes) {
    tag(field, 2);
    varint(bytes.size());
    out_ += bytes;
  }
  void float_field(uint32_t field, float v) {
    tag(field, 5);
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    for (int i = 0; i < 4; ++i) out_ += char(uint8_t(bits >> (8 * i)));   // little-endian
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

}  // namespace sentencepiece_detail

// Throws bg2vec::Error ("NAME: ...") when sentencepiece would refuse the model or misread it.
inline void validate(const SentencePieceModel& model, const std::string& name = "sentencepiece model") {
  using sentencepiece_detail::shown;
  const auto& pieces = model.pieces;
  if (pieces.empty()) fail(name, "the vocabulary has no pieces");
  if (pieces.size() > size_t(INT32_MAX)) fail(name, "the vocabulary has too many pieces");
  const int32_t size = int32_t(pieces.size());
  const auto id_name = [&](int32_t id) { return "piece " + std::to_string(id) + " (" + shown(pieces[size_t(id)].text) + ")"; };

  const int a = int(model.algorithm);
  if (a < 1 || a > 4) fail(name, "model type " + std::to_string(a) + " is not one of sentencepiece's (1 unigram, 2 bpe, 3 word, 4 char)");

  std::unordered_set<std::string_view> seen;
  seen.reserve(pieces.size());
  std::vector<bool> byte_seen(256, false);
  int32_t unknown = -1;
  size_t matchable = 0;               // pieces a unigram model can cut text into
  for (int32_t id = 0; id < size; ++id) {
    const SentencePiece& p = pieces[size_t(id)];
    const int t = int(p.type);
    if (t < 1 || t > 6) fail(name, "piece " + std::to_string(id) + " has type " + std::to_string(t) + ", not one of 1..6");
    if (p.text.empty()) fail(name, "piece " + std::to_string(id) + " is empty");
    if (p.text.find('\0') != std::string::npos) fail(name, id_name(id) + " contains a NUL character");
    if (!sentencepiece_detail::valid_utf8(p.text)) fail(name, id_name(id) + " is not valid UTF-8");
    if (!std::isfinite(p.score)) fail(name, id_name(id) + " has a score that is not finite");
    if (!seen.insert(p.text).second) {
      int32_t first = 0;
      while (pieces[size_t(first)].text != p.text) ++first;
      fail(name, id_name(id) + " duplicates piece " + std::to_string(first));
    }
    if (p.type == PieceType::control && (model.algorithm == SentencePieceAlgorithm::bpe ||
                                           model.algorithm == SentencePieceAlgorithm::character)) {
      size_t end = 0;
      (void)next_code_point(p.text, end);
      if (end == p.text.size())
        fail(name, id_name(id) + " is a control piece of one character: sentencepiece's " +
                       (model.algorithm == SentencePieceAlgorithm::bpe ? "BPE" : "char") +
                       " models then fail to encode any text that contains it");
    }
    if (p.type == PieceType::normal || p.type == PieceType::user_defined || p.type == PieceType::unused) ++matchable;
    if (p.type == PieceType::unknown) {
      if (unknown >= 0) fail(name, "more than one unknown piece: " + id_name(unknown) + " and " + id_name(id));
      unknown = id;
    }
    if (p.type == PieceType::byte) {
      if (!model.byte_fallback) fail(name, id_name(id) + " is a byte piece, but byte fallback is off");
      const int b = sentencepiece_detail::byte_of_piece(p.text);
      if (b < 0) fail(name, id_name(id) + " is typed byte but is not spelled <0xHH>");
      byte_seen[size_t(b)] = true;
    }
  }
  if (unknown < 0) fail(name, "no unknown piece (sentencepiece needs exactly one)");
  if (model.algorithm == SentencePieceAlgorithm::unigram && matchable == 0)
    fail(name, "a unigram model needs at least one normal, user-defined or unused piece (sentencepiece loads none otherwise)");
  if (model.unk_id != unknown)
    fail(name, "unk id " + std::to_string(model.unk_id) + " is not the unknown piece, " + id_name(unknown));
  if (model.byte_fallback)
    for (int b = 0; b < 256; ++b)
      if (!byte_seen[size_t(b)]) {
        static constexpr char hex[] = "0123456789ABCDEF";
        fail(name, std::string("byte fallback needs all 256 byte pieces; <0x") + hex[b >> 4] + hex[b & 15] + "> is missing");
      }
  for (const auto& [what, id] : {std::pair{"bos", model.bos_id}, {"eos", model.eos_id}, {"pad", model.pad_id}})
    if (id < -1 || id >= size)
      fail(name, std::string(what) + " id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(size));
}

// The model as ModelProto bytes (what a tokenizer.model file holds); validates it first.
inline std::string serialize(const SentencePieceModel& model, const std::string& name = "sentencepiece model") {
  validate(model, name);
  using sentencepiece_detail::Writer;
  Writer out;
  for (const SentencePiece& p : model.pieces) {
    Writer piece;
    piece.bytes_field(1, p.text);
    piece.float_field(2, p.score);
    piece.int32_field(3, int32_t(p.type));
    out.bytes_field(1, piece.str());
  }
  const auto piece_text = [&](int32_t id) -> std::string_view {
    return id >= 0 ? std::string_view(model.pieces[size_t(id)].text) : std::string_view{};
  };
  Writer trainer;
  trainer.int32_field(3, int32_t(model.algorithm));
  trainer.int32_field(4, int32_t(model.pieces.size()));
  trainer.bool_field(35, model.byte_fallback);
  trainer.int32_field(40, model.unk_id);
  trainer.int32_field(41, model.bos_id);
  trainer.int32_field(42, model.eos_id);
  trainer.int32_field(43, model.pad_id);
  // sentencepiece looks the special ids up by these texts; an absent one falls back to its default
  // ("<s>", "</s>", "<pad>"), which is harmless: it counts only when such a piece exists and is CONTROL.
  trainer.bytes_field(45, piece_text(model.unk_id));
  if (model.bos_id >= 0) trainer.bytes_field(46, piece_text(model.bos_id));
  if (model.eos_id >= 0) trainer.bytes_field(47, piece_text(model.eos_id));
  if (model.pad_id >= 0) trainer.bytes_field(48, piece_text(model.pad_id));
  out.bytes_field(2, trainer.str());

  Writer normalizer;
  normalizer.bytes_field(1, "identity");
  normalizer.bytes_field(2, "");
  normalizer.bool_field(3, model.add_dummy_prefix);
  normalizer.bool_field(4, model.remove_extra_whitespaces);
  normalizer.bool_field(5, model.escape_whitespaces);
  out.bytes_field(3, normalizer.str());
  return std::move(out.str());
}


// A tokenizer.model read back: the model in the terms above, and its normalization rule, which serialize()
// does not carry (it always writes "identity"): a consumer that does not normalize text (llama.cpp) cuts
// text as the original only when the rule is "identity" (or absent) with no precompiled character map.
struct ParsedSentencePiece {
  SentencePieceModel model;
  std::string normalizer_name = "nmt_nfkc";   // sentencepiece's default when the field is absent
  bool has_charsmap = false;                  // a non-empty precompiled_charsmap
};

namespace sentencepiece_detail {

// Protobuf wire format, read: the fields of the messages above, every other field skipped by its wire type.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& name) : bytes_(bytes), name_(name) {}
  bool done() const { return pos_ >= bytes_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) fail(name_, "truncated sentencepiece model (a varint runs past the end)");
      const uint8_t b = uint8_t(bytes_[pos_++]);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(name_, "damaged sentencepiece model (a varint longer than 10 bytes)");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > bytes_.size() - pos_) fail(name_, "truncated sentencepiece model (a field runs past the end)");
    const auto out = bytes_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return out;
  }
  float fixed32_float() {
    if (bytes_.size() - pos_ < 4) fail(name_, "truncated sentencepiece model (a float runs past the end)");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= uint32_t(uint8_t(bytes_[pos_ + size_t(i)])) << (8 * i);
    pos_ += 4;
    return std::bit_cast<float>(bits);
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); break;
      case 1: if (bytes_.size() - pos_ < 8) fail(name_, "truncated sentencepiece model"); pos_ += 8; break;
      case 2: bytes(); break;
      case 5: fixed32_float(); break;
      default: fail(name_, "damaged sentencepiece model (wire type " + std::to_string(wire_type) + ")");
    }
  }

 private:
  std::string_view bytes_;
  const std::string& name_;
  size_t pos_ = 0;
};

}  // namespace sentencepiece_detail

// The ModelProto bytes of a tokenizer.model as a SentencePieceModel (fields absent take sentencepiece's
// defaults: unigram, unk/bos/eos/pad 0/1/2/-1, dummy prefix and extra-whitespace removal on). Validated.
inline ParsedSentencePiece parse_sentencepiece(std::string_view bytes, const std::string& name = "sentencepiece model") {
  using sentencepiece_detail::Reader;
  ParsedSentencePiece out;
  SentencePieceModel& m = out.model;
  m.algorithm = SentencePieceAlgorithm::unigram;
  m.unk_id = 0, m.bos_id = 1, m.eos_id = 2, m.pad_id = -1;
  m.add_dummy_prefix = true, m.remove_extra_whitespaces = true, m.escape_whitespaces = true;
  const auto int32_of = [](uint64_t v) { return int32_t(int64_t(v)); };   // negative int32s are sign-extended
  Reader in(bytes, name);
  while (!in.done()) {
    const uint64_t tag = in.varint();
    const uint32_t field = uint32_t(tag >> 3), wire = uint32_t(tag & 7);
    if (field == 1 && wire == 2) {
      Reader p(in.bytes(), name);
      SentencePiece piece;
      while (!p.done()) {
        const uint64_t t = p.varint();
        const uint32_t f = uint32_t(t >> 3), w = uint32_t(t & 7);
        if (f == 1 && w == 2) piece.text = std::string(p.bytes());
        else if (f == 2 && w == 5) piece.score = p.fixed32_float();
        else if (f == 3 && w == 0) piece.type = PieceType(int32_of(p.varint()));
        else p.skip(w);
      }
      m.pieces.push_back(std::move(piece));
    } else if (field == 2 && wire == 2) {
      Reader t(in.bytes(), name);
      while (!t.done()) {
        const uint64_t tg = t.varint();
        const uint32_t f = uint32_t(tg >> 3), w = uint32_t(tg & 7);
        if (w != 0) { t.skip(w); continue; }
        const uint64_t v = t.varint();
        switch (f) {
          case 3: m.algorithm = SentencePieceAlgorithm(int32_of(v)); break;
          case 35: m.byte_fallback = v != 0; break;
          case 40: m.unk_id = int32_of(v); break;
          case 41: m.bos_id = int32_of(v); break;
          case 42: m.eos_id = int32_of(v); break;
          case 43: m.pad_id = int32_of(v); break;
          default: break;
        }
      }
    } else if (field == 3 && wire == 2) {
      Reader n(in.bytes(), name);
      while (!n.done()) {
        const uint64_t tg = n.varint();
        const uint32_t f = uint32_t(tg >> 3), w = uint32_t(tg & 7);
        if (f == 1 && w == 2) out.normalizer_name = std::string(n.bytes());
        else if (f == 2 && w == 2) out.has_charsmap = !n.bytes().empty();
        else if (f >= 3 && f <= 5 && w == 0) {
          const bool v = n.varint() != 0;
          (f == 3 ? m.add_dummy_prefix : f == 4 ? m.remove_extra_whitespaces : m.escape_whitespaces) = v;
        } else n.skip(w);
      }
    } else {
      in.skip(wire);
    }
  }
  validate(m, name);
  return out;
}

}  // namespace bg2vec::text
