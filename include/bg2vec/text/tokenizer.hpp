#pragma once
// A sentencepiece model (any tokenizer.model: BgGPT's, or one trained by `bg2vec tokenizer train`)
// behind the small interface the rest of bg2vec needs: text <-> ids, the special ids, and padded
// batches. Encoding is const and thread-safe, so several threads may share one Tokenizer.
// A model may also come as bytes (Tokenizer::from_serialized: e.g. one rebuilt from a GGUF vocabulary,
// text/gguf_vocabulary.hpp), and any model can be written back as a tokenizer.model (save).
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/error.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <sentencepiece_processor.h>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bg2vec::text {

class Tokenizer {
 public:
  explicit Tokenizer(const std::filesystem::path& model_file)
      : path_(model_file), spm_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
    if (!std::filesystem::exists(model_file)) fail(model_file, "tokenizer model not found");
    load(model_file, [&] { return spm_->Load(model_file.string()); });
  }

  // A model from its serialized ModelProto (the bytes of a tokenizer.model); `name` stands for the
  // model in error messages and path() (e.g. the GGUF file it was rebuilt from).
  static Tokenizer from_serialized(std::string_view model_proto, std::filesystem::path name) {
    Tokenizer tokenizer(std::move(name), std::make_unique<sentencepiece::SentencePieceProcessor>());
    load(tokenizer.path_, [&] { return tokenizer.spm_->LoadFromSerializedProto(model_proto); });
    return tokenizer;
  }

  // The model as tokenizer.model bytes, and written to a file (atomically).
  std::string serialized() const { return spm_->serialized_model_proto(); }
  void save(const std::filesystem::path& model_file) const { write_file_atomically(model_file, serialized()); }

  std::vector<int32_t> encode(std::string_view text, bool add_bos = true, bool add_eos = false) const {
    std::vector<int> pieces;
    const auto status = spm_->Encode(text, &pieces);
    if (!status.ok()) fail(path_, "cannot encode text: " + status.ToString());
    std::vector<int32_t> ids;
    ids.reserve(pieces.size() + 2);
    if (add_bos && bos_id() >= 0) ids.push_back(bos_id());
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    if (add_eos && eos_id() >= 0) ids.push_back(eos_id());
    return ids;
  }

  // Control pieces (bos, eos, pad) decode to nothing; an id outside the vocabulary is an error.
  std::string decode(std::span<const int32_t> ids) const {
    for (int32_t id : ids)
      if (id < 0 || id >= vocab_size())
        fail(path_, "cannot decode id " + std::to_string(id) + ": outside the vocabulary of " +
                        std::to_string(vocab_size()));
    const std::vector<int> pieces(ids.begin(), ids.end());
    std::string text;
    const auto status = spm_->Decode(pieces, &text);
    if (!status.ok()) fail(path_, "cannot decode: " + status.ToString());
    return text;
  }

  int vocab_size() const { return spm_->GetPieceSize(); }
  int bos_id() const { return spm_->bos_id(); }
  int eos_id() const { return spm_->eos_id(); }
  int unk_id() const { return spm_->unk_id(); }

  // The model's pad id. Models without one (Llama/Mistral tokenizers, BgGPT's) pad with eos, as
  // LLM2Vec does; padded positions are masked out, so only the mask, not the id, matters.
  int pad_id() const {
    if (spm_->pad_id() >= 0) return spm_->pad_id();
    return eos_id() >= 0 ? eos_id() : 0;
  }

  int piece_to_id(std::string_view piece) const {
    const int id = spm_->PieceToId(piece);
    if (id == unk_id() && piece != spm_->IdToPiece(unk_id()))
      fail(path_, "the piece '" + std::string(piece) + "' is not in the vocabulary");
    return id;
  }

  std::string id_to_piece(int id) const {
    if (id < 0 || id >= vocab_size()) fail(path_, "no piece with id " + std::to_string(id));
    return spm_->IdToPiece(id);
  }

  bool has_piece(std::string_view piece) const {
    const int id = spm_->PieceToId(piece);
    return id != unk_id() || piece == spm_->IdToPiece(unk_id());
  }

  // Right-padded batch of the texts; each truncated to `max_len` tokens, keeping BOS (and EOS when
  // asked for). The batch is as long as its longest row. mask = 1 on real tokens.
  TokenBatch encode_batch(const std::vector<std::string>& texts, int max_len, bool add_bos = true,
                          bool add_eos = false) const {
    if (max_len < 1 + int(add_bos) + int(add_eos))
      fail("encode_batch: max_len " + std::to_string(max_len) + " leaves no room for text");
    std::vector<std::vector<int32_t>> rows;
    rows.reserve(texts.size());
    int longest = 0;
    for (const auto& text : texts) {
      auto ids = encode(text, add_bos, add_eos);
      if (int(ids.size()) > max_len) {
        const bool keep_eos = add_eos && eos_id() >= 0;
        ids.resize(size_t(max_len));
        if (keep_eos) ids.back() = eos_id();
      }
      longest = std::max(longest, int(ids.size()));
      rows.push_back(std::move(ids));
    }
    TokenBatch batch;
    batch.batch = int(rows.size());
    batch.seq_len = longest;
    batch.ids.assign(size_t(batch.batch) * size_t(longest), pad_id());
    batch.mask.assign(batch.ids.size(), 0);
    for (size_t b = 0; b < rows.size(); ++b) {
      std::copy(rows[b].begin(), rows[b].end(), batch.ids.begin() + long(b * size_t(longest)));
      std::fill_n(batch.mask.begin() + long(b * size_t(longest)), rows[b].size(), uint8_t(1));
    }
    return batch;
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  Tokenizer(std::filesystem::path name, std::unique_ptr<sentencepiece::SentencePieceProcessor> spm)
      : path_(std::move(name)), spm_(std::move(spm)) {}

  // sentencepiece reports most bad models in its status, but some only by throwing (its trie builder's
  // Darts exception for an empty piece, found by fuzz_tokenizer_model): either becomes our error.
  template <class Load>
  static void load(const std::filesystem::path& name, Load&& load_model) {
    sentencepiece::util::Status status;
    try {
      status = load_model();
    } catch (const std::exception& e) {
      fail(name, std::string("not a usable sentencepiece model: ") + e.what());
    }
    if (!status.ok()) fail(name, "not a sentencepiece model: " + status.ToString());
  }

  std::filesystem::path path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> spm_;
};

}  // namespace bg2vec::text
