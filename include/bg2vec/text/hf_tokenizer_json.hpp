#pragma once
// A SentencePiece BPE model as the tokenizer.json of Hugging Face's `tokenizers` (what transformers' fast
// tokenizers load, with no sentencepiece or protobuf installed): a BPE model with byte fallback whose merges
// are derived from the piece scores the way transformers' SentencePieceExtractor derives them, and the
// sentencepiece pipeline around it:
//  - normalizer: spaces to U+2581 (and a U+2581 prepended when the model adds a dummy prefix);
//  - model: BPE over the vocabulary (every piece, id = index), unk the unknown piece, byte_fallback, fuse_unk;
//    merges: for every normal piece, each split into two pieces of the vocabulary (at code-point
//    boundaries), ordered by the piece's score, highest first (sentencepiece merges the pair whose result
//    scores highest; ties keep vocabulary order);
//  - added tokens: control and unknown pieces (special), user-defined pieces (matched whole in the
//    normalized text, as sentencepiece matches them);
//  - post-processor: BOS (and EOS) around each text, as bg2vec encodes;
//  - decoder: U+2581 back to spaces, byte pieces to bytes.
#include <bg2vec/core/utf8.hpp>
#include <bg2vec/text/sentencepiece_model.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace bg2vec::text {

// The BPE merges of a SentencePiece model, as (left, right) pairs in rank order.
inline std::vector<std::pair<std::string, std::string>> bpe_merges(const SentencePieceModel& m) {
  std::unordered_map<std::string_view, int32_t> vocab;
  vocab.reserve(m.pieces.size());
  for (size_t i = 0; i < m.pieces.size(); ++i) vocab.emplace(m.pieces[i].text, int32_t(i));
  struct Merge { float score; int32_t piece, left, right; size_t split; };
  std::vector<Merge> merges;
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const SentencePiece& p = m.pieces[i];
    if (p.type != PieceType::normal) continue;
    const std::string_view text = p.text;
    std::vector<Merge> local;
    for (size_t pos = 0; pos < text.size();) {
      next_code_point(text, pos);
      if (pos >= text.size()) break;
      const auto l = vocab.find(text.substr(0, pos)), r = vocab.find(text.substr(pos));
      if (l != vocab.end() && r != vocab.end()) local.push_back({p.score, int32_t(i), l->second, r->second, pos});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) { return std::pair(a.left, a.right) < std::pair(b.left, b.right); });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const Merge& mg : merges) {
    const std::string& text = m.pieces[size_t(mg.piece)].text;
    out.emplace_back(text.substr(0, mg.split), text.substr(mg.split));
  }
  return out;
}

inline nlohmann::json hf_tokenizer_json(const SentencePieceModel& m, bool add_bos = true, bool add_eos = false) {
  using nlohmann::json;
  const std::string space = "\u2581";
  json added = json::array();
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const SentencePiece& p = m.pieces[i];
    if (p.type != PieceType::control && p.type != PieceType::unknown && p.type != PieceType::user_defined) continue;
    const bool special = p.type != PieceType::user_defined;
    added.push_back({{"id", i}, {"content", p.text}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", !special}, {"special", special}});
  }
  json replace = json::object({{"type", "Replace"}, {"pattern", json::object({{"String", " "}})}, {"content", space}});
  json normalizer = replace;
  if (m.add_dummy_prefix)
    normalizer = {{"type", "Sequence"},
                  {"normalizers", json::array({json::object({{"type", "Prepend"}, {"prepend", space}}), replace})}};
  json vocab = json::object();
  for (size_t i = 0; i < m.pieces.size(); ++i) vocab[m.pieces[i].text] = i;
  json merges = json::array();
  for (auto& [l, r] : bpe_merges(m)) merges.push_back(json::array({std::move(l), std::move(r)}));

  // BOS / EOS around each text (and each of a pair).
  json special_tokens = json::object();
  const auto special = [&](int32_t id, int type_id) {
    const std::string& t = m.pieces[size_t(id)].text;
    special_tokens[t] = {{"id", t}, {"ids", json::array({id})}, {"tokens", json::array({t})}};
    return json::object({{"SpecialToken", json::object({{"id", t}, {"type_id", type_id}})}});
  };
  const auto wrap = [&](json& into, const char* seq, int type_id) {
    if (add_bos && m.bos_id >= 0) into.push_back(special(m.bos_id, type_id));
    into.push_back(json::object({{"Sequence", json::object({{"id", seq}, {"type_id", type_id}})}}));
    if (add_eos && m.eos_id >= 0) into.push_back(special(m.eos_id, type_id));
  };
  json single = json::array();
  wrap(single, "A", 0);
  json pair = single;
  wrap(pair, "B", 1);
  json decoders = json::array();
  decoders.push_back(json::object({{"type", "Replace"}, {"pattern", json::object({{"String", space}})}, {"content", " "}}));
  decoders.push_back(json::object({{"type", "ByteFallback"}}));
  decoders.push_back(json::object({{"type", "Fuse"}}));
  if (m.add_dummy_prefix) decoders.push_back(json::object({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}));

  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", normalizer},
          {"pre_tokenizer", nullptr},
          {"post_processor", {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special_tokens}}},
          {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", m.pieces[size_t(m.unk_id)].text},
                     {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
                     {"byte_fallback", m.byte_fallback}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}}}};
}

}  // namespace bg2vec::text
