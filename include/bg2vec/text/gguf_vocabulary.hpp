#pragma once
// The tokenizer of a GGUF file, rebuilt as a SentencePiece model. llama.cpp's converter stores a
// SentencePiece vocabulary (`tokenizer.ggml.model` = "llama", as for Llama, Mistral and Gemma) as
// metadata: the pieces (`tokenizer.ggml.tokens`), their scores (`.scores`, float32) and types
// (`.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), the special ids
// (`.bos_token_id`, `.eos_token_id`, `.unknown_token_id`, `.padding_token_id`, each optional) and
// `.add_space_prefix` (default true). From them we rebuild the model that sentencepiece loads:
//   BPE (the scores are merge priorities), byte fallback when byte pieces exist, identity normalization,
//   a dummy prefix when add_space_prefix, extra whitespace kept, spaces escaped as U+2581.
// Three rules make files that llama.cpp reads loadable by sentencepiece, and cut text as the original:
//  - spaces inside pieces are respelled U+2581, as sentencepiece stores them (some converters write
//    pieces that are runs of whitespace with real spaces, e.g. Gemma-3's; they would never match);
//  - the unknown_token_id piece is typed UNKNOWN whatever its stored type (sentencepiece needs exactly
//    one UNKNOWN piece; Gemma-3 stores its <unk> as control);
//  - a bos/eos/pad id on a normal, user-defined or unused piece makes that piece CONTROL (sentencepiece
//    reports only control pieces as bos/eos/pad; an id on the unknown or a byte piece is left as it is).
// Other vocabularies (`gpt2` byte-level BPE, `bert` WordPiece, ...) are refused by name.
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/gguf/writer.hpp>
#include <bg2vec/text/sentencepiece_model.hpp>
#include <bg2vec/text/tokenizer.hpp>

#include <string>
#include <vector>

namespace bg2vec::text {

// What a GGUF says about adding bos/eos around encoded text (llama.cpp's defaults for SentencePiece
// vocabularies: bos yes, eos no); sentencepiece models do not carry this, so it travels apart.
struct GgufTokenizerFlags {
  bool add_bos = true;    // tokenizer.ggml.add_bos_token
  bool add_eos = false;   // tokenizer.ggml.add_eos_token
};

namespace gguf_vocabulary_detail {

inline constexpr std::string_view kModel = "tokenizer.ggml.model";
inline constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kTypes = "tokenizer.ggml.token_type";

inline std::string respell_spaces(const std::string& piece) {
  if (piece.find(' ') == std::string::npos) return piece;
  std::string out;
  out.reserve(piece.size() + 8);
  for (char c : piece) {
    if (c == ' ') out += "\u2581";
    else out += c;
  }
  return out;
}

// An optional id key: absent -> -1; present -> inside [0, size) or an error naming the key.
inline int32_t special_id(const gguf::GgufFile& f, std::string_view key, size_t size) {
  const auto id = f.find_integer(key);
  if (!id) return -1;
  if (*id < 0 || uint64_t(*id) >= size)
    fail(f.path(), "metadata key '" + std::string(key) + "' is " + std::to_string(*id) +
                       ", outside the vocabulary of " + std::to_string(size) + " tokens");
  return int32_t(*id);
}

}  // namespace gguf_vocabulary_detail

// The GGUF's vocabulary as a SentencePiece model (validated: errors name the file and the key).
inline SentencePieceModel sentencepiece_from_gguf(const gguf::GgufFile& f) {
  namespace d = gguf_vocabulary_detail;
  const auto& path = f.path();
  const auto require_key = [&](std::string_view key) {
    if (!f.has(key)) fail(path, "no tokenizer: missing metadata key '" + std::string(key) + "'");
  };
  require_key(d::kModel);
  const std::string kind = f.string(d::kModel);
  if (kind != "llama")
    fail(path, "metadata key '" + std::string(d::kModel) + "' is '" + kind +
                   "': only 'llama' (a SentencePiece vocabulary) can be rebuilt as a tokenizer.model");
  require_key(d::kTokens);
  require_key(d::kScores);
  require_key(d::kTypes);
  const std::vector<std::string>& tokens = f.strings(d::kTokens);
  if (tokens.empty()) fail(path, "metadata key '" + std::string(d::kTokens) + "' is empty");
  if (tokens.size() > size_t(INT32_MAX)) fail(path, "metadata key '" + std::string(d::kTokens) + "' has too many tokens");
  const std::vector<double> scores = f.numbers(d::kScores);
  const std::vector<int64_t> types = f.integers(d::kTypes);
  for (const auto& [key, size] : {std::pair{d::kScores, scores.size()}, {d::kTypes, types.size()}})
    if (size != tokens.size())
      fail(path, "metadata key '" + std::string(key) + "' has " + std::to_string(size) + " entries, but '" +
                     std::string(d::kTokens) + "' has " + std::to_string(tokens.size()));

  SentencePieceModel m;
  m.algorithm = SentencePieceAlgorithm::bpe;
  m.pieces.resize(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] < 1 || types[i] > 6)
      fail(path, "metadata key '" + std::string(d::kTypes) + "' gives token " + std::to_string(i) + " the type " +
                     std::to_string(types[i]) + ", not one of 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte");
    SentencePiece& p = m.pieces[i];
    p.type = PieceType(int32_t(types[i]));
    p.text = p.type == PieceType::byte ? tokens[i] : d::respell_spaces(tokens[i]);
    p.score = float(scores[i]);   // stored as float32: exact
    m.byte_fallback = m.byte_fallback || p.type == PieceType::byte;
  }

  const std::string unk_key = "tokenizer.ggml.unknown_token_id";
  m.unk_id = d::special_id(f, unk_key, tokens.size());
  if (m.unk_id >= 0) {
    for (size_t i = 0; i < m.pieces.size(); ++i)
      if (m.pieces[i].type == PieceType::unknown && int32_t(i) != m.unk_id)
        fail(path, "metadata key '" + unk_key + "' is " + std::to_string(m.unk_id) + ", but token " + std::to_string(i) +
                       " is the one typed unknown (2)");
    m.pieces[size_t(m.unk_id)].type = PieceType::unknown;
  } else {
    for (size_t i = 0; i < m.pieces.size() && m.unk_id < 0; ++i)
      if (m.pieces[i].type == PieceType::unknown) m.unk_id = int32_t(i);
    if (m.unk_id < 0)
      fail(path, "no unknown token: none has type 2 in '" + std::string(d::kTypes) + "' and there is no '" + unk_key +
                     "' (sentencepiece needs exactly one)");
  }
  m.bos_id = d::special_id(f, "tokenizer.ggml.bos_token_id", tokens.size());
  m.eos_id = d::special_id(f, "tokenizer.ggml.eos_token_id", tokens.size());
  m.pad_id = d::special_id(f, "tokenizer.ggml.padding_token_id", tokens.size());
  for (int32_t id : {m.bos_id, m.eos_id, m.pad_id}) {
    if (id < 0) continue;
    PieceType& t = m.pieces[size_t(id)].type;
    if (t == PieceType::normal || t == PieceType::user_defined || t == PieceType::unused) t = PieceType::control;
  }

  m.add_dummy_prefix = f.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  m.remove_extra_whitespaces = false;
  m.escape_whitespaces = true;
  validate(m, path.string());
  return m;
}

inline GgufTokenizerFlags tokenizer_flags_from_gguf(const gguf::GgufFile& f) {
  GgufTokenizerFlags flags;
  flags.add_bos = f.find_bool("tokenizer.ggml.add_bos_token").value_or(flags.add_bos);
  flags.add_eos = f.find_bool("tokenizer.ggml.add_eos_token").value_or(flags.add_eos);
  return flags;
}

// The GGUF's tokenizer, ready to encode (Tokenizer::save writes it as a tokenizer.model).
inline Tokenizer tokenizer_from_gguf(const gguf::GgufFile& f) {
  return Tokenizer::from_serialized(serialize(sentencepiece_from_gguf(f), f.path().string()), f.path());
}

// The way back, for an export: a tokenizer.model as llama.cpp's "llama" vocabulary, so that
// sentencepiece_from_gguf rebuilds the same model and llama.cpp cuts text as sentencepiece does:
//  - the pieces, scores and types as they are; user-defined pieces with U+2581 spelled as spaces (llama.cpp
//    finds user-defined pieces in the raw text, before spaces are escaped; sentencepiece after), which the
//    import respells;
//  - the special ids that sentencepiece reports (bos/eos/pad on a control piece, unk on the unknown one);
//  - add_space_prefix = add_dummy_prefix, add_bos/add_eos as bg2vec encodes (bos yes, eos no);
//  - `vocab_size` pieces: a model's embedding may have more rows than the tokenizer has pieces (padding to a
//    multiple of 64 or 128); those get pieces "[PAD1]", "[PAD2]", ... typed unused, scored -1000, as llama.cpp's
//    converter pads.
// Refused: a unigram model (llama.cpp's SentencePiece tokenizer applies BPE merges by score, which cuts a
// unigram vocabulary differently), more pieces than vocab_size. What llama.cpp cannot reproduce but still
// works (a normalization rule other than identity, removal of extra whitespace, no byte fallback: llama.cpp then fails
// on characters outside the vocabulary) is returned as warnings.
inline std::vector<std::string> add_gguf_vocabulary(gguf::GgufWriter& w, const ParsedSentencePiece& spm, int vocab_size,
                                                    const std::string& name, const GgufTokenizerFlags& flags = {}) {
  const SentencePieceModel& m = spm.model;
  if (m.algorithm != SentencePieceAlgorithm::bpe)
    fail(name, "is a " + std::string(m.algorithm == SentencePieceAlgorithm::unigram ? "unigram" : "word/char") +
                   " sentencepiece model; llama.cpp's SentencePiece vocabulary ('llama') applies BPE merges by score, so only "
                   "BPE models (bg2vec tokenizer train's default, Llama, Mistral, Gemma) can be exported");
  if (vocab_size < int(m.pieces.size()))
    fail(name, "has " + std::to_string(m.pieces.size()) + " pieces, more than the model's vocabulary of " + std::to_string(vocab_size));
  std::vector<std::string> warnings;
  if ((spm.normalizer_name != "identity" && !spm.normalizer_name.empty()) || spm.has_charsmap)
    warnings.push_back(name + ": normalization '" + spm.normalizer_name +
                       "': llama.cpp does not normalize text, so texts that this rule rewrites (e.g. NFKC's full-width "
                       "forms) are cut differently there");
  if (!m.byte_fallback)
    warnings.push_back(name + ": has no byte fallback (no <0xHH> pieces): llama.cpp's SentencePiece tokenizer stops with an error "
                              "(std::out_of_range) on any character outside the vocabulary, where sentencepiece gives <unk>");
  if (m.remove_extra_whitespaces)
    warnings.push_back(name + ": removes extra whitespace, which llama.cpp does not: texts with runs of spaces are cut differently there");

  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(size_t(vocab_size));
  for (const SentencePiece& p : m.pieces) {
    std::string text = p.text;
    if (p.type == PieceType::user_defined) {
      std::string spaced;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 3, "\u2581") == 0) { spaced += ' '; i += 2; }
        else spaced += text[i];
      }
      text = std::move(spaced);
    }
    tokens.push_back(std::move(text));
    scores.push_back(p.score);
    types.push_back(int32_t(p.type));
  }
  for (int id = int(m.pieces.size()); id < vocab_size; ++id) {
    tokens.push_back("[PAD" + std::to_string(id - int(m.pieces.size()) + 1) + "]");
    scores.push_back(-1000.0f);
    types.push_back(int32_t(PieceType::unused));
  }
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string("tokenizer.ggml.pre", "default");
  w.add_strings("tokenizer.ggml.tokens", tokens);
  w.add_f32s("tokenizer.ggml.scores", scores);
  w.add_i32s("tokenizer.ggml.token_type", types);
  const auto control = [&](int32_t id) { return id >= 0 && m.pieces[size_t(id)].type == PieceType::control ? id : -1; };
  for (const auto& [key, id] : {std::pair{"tokenizer.ggml.bos_token_id", control(m.bos_id)},
                                {"tokenizer.ggml.eos_token_id", control(m.eos_id)},
                                {"tokenizer.ggml.unknown_token_id", m.unk_id},
                                {"tokenizer.ggml.padding_token_id", control(m.pad_id)}})
    if (id >= 0) w.add_u32(key, uint32_t(id));
  w.add_bool("tokenizer.ggml.add_bos_token", flags.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", flags.add_eos);
  w.add_bool("tokenizer.ggml.add_space_prefix", m.add_dummy_prefix);
  return warnings;
}

}  // namespace bg2vec::text
