#pragma once
// The sizes of one demo run. Two recipes share the stages after the causal model:
//   pretrained    (the default) a real LLM (the embedded Gemma-3-270M GGUF, or --model): imported, then
//                 MNTP and SimCSE with LoRA, as LLM2Vec converts a 7B model;
//   from scratch  (--from-scratch) a small Mistral-shaped decoder pretrained here with next-token
//                 prediction on the shipped sentences, then full fine-tuning: the offline fallback.
// `quick` shrinks either to a smoke test of the whole chain.
#include <nlohmann/json.hpp>

#include <string>

namespace bg2vec::demo {

struct TrainSettings {
  int steps = 0, batch = 0, seq_len = 0;
  float lr = 0;
  nlohmann::json json() const { return {{"steps", steps}, {"batch", batch}, {"seq_len", seq_len}, {"lr", lr}}; }
};

struct DemoSettings {
  bool from_scratch = false;
  // from scratch: the decoder and its NTP pretraining
  int vocab = 4000, layers = 4, hidden = 256, heads = 4, kv_heads = 2, ffn = 688;
  TrainSettings ntp{700, 32, 64, 2e-3f};
  // MNTP, SimCSE
  TrainSettings mntp{150, 32, 64, 5e-4f}, simcse{60, 64, 64, 3e-4f};
  int lora_rank = 0;                   // 0: full fine-tuning
  float lora_alpha = 32, lora_dropout = 0.05f;
  float mask_rate = 0.2f, simcse_dropout = 0.1f;
  std::string mask_mode = "bert", mask_piece;   // mask_piece empty: the tokenizer's "_" (train's default)
  // evaluation
  int max_length = 512;                // tokens per text when encoding (the encoders' bg2vec.json)
  size_t max_queries = 500, max_sentence_documents = 0;   // per sentence set (0: every held-out sentence)
  size_t max_sections = 0;             // of the dump excerpt for the passage sets (0: all)

  // LLM2Vec's settings for a pretrained model, scaled to this budget (docs/demo.md says how they were chosen).
  static DemoSettings pretrained(bool quick) {
    DemoSettings s;
    s.mntp = {40, 4, 512, 1e-3f};      // blocks of 512 tokens: longer than any passage encoded later
    s.simcse = {40, 32, 128, 3e-4f};
    s.lora_rank = 16;
    s.mask_piece = "_";
    s.max_length = 2048;               // passages are encoded whole
    s.max_queries = 150;               // the sentence sets are BM25's ground: kept small, the passages whole
    s.max_sentence_documents = 300;
    if (quick) {
      s.mntp = {3, 2, 128, 1e-3f};
      s.simcse = {3, 8, 64, 3e-4f};
      s.max_queries = 24;
      s.max_sentence_documents = 48;
      s.max_sections = 9;
    }
    return s;
  }

  static DemoSettings scratch(bool quick) {
    DemoSettings s;
    s.from_scratch = true;
    if (quick) {
      s.vocab = 1000; s.layers = 2; s.hidden = 64; s.heads = 4; s.kv_heads = 2; s.ffn = 160;
      s.ntp = {40, 16, 32, 2e-3f};
      s.mntp = {15, 16, 32, 5e-4f};
      s.simcse = {10, 32, 32, 3e-4f};
      s.max_queries = 60;
    }
    return s;
  }

  nlohmann::json json() const {
    nlohmann::json j;
    if (from_scratch) {
      j["decoder"] = {{"vocabulary", vocab}, {"layers", layers}, {"hidden", hidden}, {"heads", heads}, {"kv_heads", kv_heads},
                      {"ffn", ffn}, {"tied_embeddings", true}};
      j["ntp"] = ntp.json();
      j["ntp"]["schedule"] = "linear, 5% warm-up";
    }
    j["mntp"] = mntp.json();
    j["mntp"].update({{"mask_rate", mask_rate}, {"mask_mode", mask_mode}, {"mask_piece", mask_piece.empty() ? "_" : mask_piece}});
    j["simcse"] = simcse.json();
    j["simcse"].update({{"dropout", simcse_dropout}, {"temperature", 0.05}, {"seeds", {1, 2}}});
    j["training"] = lora_rank > 0 ? nlohmann::json{{"lora", {{"rank", lora_rank}, {"alpha", lora_alpha}, {"dropout", lora_dropout},
                                                             {"targets", "all 7 projections"}, {"simcse", "a fresh adapter on the merged MNTP model"}}}}
                                  : nlohmann::json("full fine-tuning");
    j["pooling"] = "BOS left out of mean, weighted-mean and last-token pooling";
    j["max_length"] = max_length;
    j["max_queries_per_set"] = max_queries;
    return j;
  }
};

}  // namespace bg2vec::demo
