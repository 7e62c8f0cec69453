#pragma once
// How much memory a model takes to encode a batch or to take one training step, from its shapes alone
// (nothing is allocated): what `bg2vec inspect` prints. Each figure mirrors one buffer the code really
// allocates, named after it:
//   weights          Model's flat float32 parameter buffer (nn/model.hpp), whatever the file stores; for bf16
//                    encoding (nn/inference_model.hpp) without the seven projections, which exist only packed;
//   packed           Projections' bf16 copies of the seven projections (nn/projections.hpp):
//                    one cpu::PackedB per weight for y = x W^T, and for training one more for dx = dy W; and of
//                    the lm_head, packed on first use by a token-prediction loss (h W^T; dh = dZ W when training),
//                    so not for encoding;
//   activations      the Activations arena (nn/activations.hpp): one layer's buffers for inference, every
//                    layer's (or every layer's input, with checkpointing) for training;
//   file             the model file, memory-mapped while load_model reads it: each tensor's pages are dropped
//                    once it is converted (io::MappedFile::release), so about one tensor of the file is resident at
//                    a time, counted as the largest tensor's share of the file; load_model then moves the Model out
//                    (until 2026-12-02 it was copied, the whole file stayed resident until it was closed, and the
//                    float32 weights existed twice for a moment);
//   load scratch     bf16 encoding: the float32 matrix each projection is read into before it is packed;
// and for a step (train/trainer.hpp, train/objectives.hpp, nn/decoder.hpp, nn/cross_entropy.hpp, nn/lora.hpp):
// the gradient buffer and AdamW's two moments (of what trains: all parameters, or the adapter), the adapter,
// d_hidden, the backward pass's per-layer workspace, the lm_head's cross-entropy chunk, LoRA's temporaries,
// and, for a full bf16 step, the second packing that repacking after the update builds before it frees the
// first. A phase's peak is what is alive at once; the step's peak is the largest phase.
// With bf16 compute, also the GEMM's copy of its input and the bf16 attention's operands (Q, K, V and, for a
// step, dO, each once in the layouts the tile products read: 96 MiB for encoding 16 x 512 tokens with a
// Mistral-7B, twice that for a step).
// Not counted: the program and its libraries (tens of MiB), small per-thread scratch (T x T attention tiles,
// Eigen's GEMM blocks), the batch and the tokenizer. tests/test_memory_estimate.cpp checks the mirrored
// buffers against the real ones (Activations::bytes(), Projections::packed_bytes(), AttentionOperands::bytes()),
// so a change of those layouts has to be made here too.
#include <bg2vec/backend/compute.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/nn/activations.hpp>
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/nn/parameters.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bg2vec::memory {

// Bytes of one cpu::PackedB for C (+)= A B with B [K, C]: panels of kPanel columns, the reduction in pairs.
inline double packed_bf16_bytes(int64_t K, int64_t C) {
  const int64_t pairs = (K + 1) / 2, panels = (C + backend::cpu::kPanel - 1) / backend::cpu::kPanel;
  return double(panels * pairs * 2 * backend::cpu::kPanel) * 2;
}

// (in, out) of the seven projections, in Projections' order (q, k, v, o, gate, up, down).
inline std::array<std::pair<int64_t, int64_t>, 7> projection_shapes(const io::ModelConfig& c) {
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  return {{{H, c.q_dim()}, {H, c.kv_dim()}, {H, c.kv_dim()}, {c.q_dim(), H}, {H, F}, {H, F}, {F, H}}};
}

// What Projections(weights, compute, for_training).packed_bytes() holds: 0 for float32.
inline double packed_projection_bytes(const io::ModelConfig& c, backend::Compute compute, bool for_training) {
  if (compute != backend::Compute::Bf16) return 0;
  double layer = 0;
  for (const auto& [in, out] : projection_shapes(c)) {
    layer += packed_bf16_bytes(in, out);                     // y = x W^T: B = W^T [in, out]
    if (for_training) layer += packed_bf16_bytes(out, in);   // dx = dy W: B = W [out, in]
  }
  return layer * c.num_layers;
}

// The lm_head's bf16 copies that a token-prediction loss packs on first use (Projections::lm_head_forward/
// lm_head_backward_input): logits = h W^T (B = W^T [H, V]) and, when training, dh = dZ W (B = W [V, H]).
inline double packed_lm_head_bytes(const io::ModelConfig& c, backend::Compute compute, bool for_training) {
  if (compute != backend::Compute::Bf16) return 0;
  const int64_t H = c.hidden_size, V = c.vocab_size;
  return packed_bf16_bytes(H, V) + (for_training ? packed_bf16_bytes(V, H) : 0);
}

// Whether a layer keeps its attention probabilities [B*heads*T, T] for the backward pass (attention that
// materialises them), or only each query row's logsumexp [B*heads*T] (tiled attention that recomputes them).
template <class LayerActs>
inline constexpr bool keeps_attention_probabilities = requires(LayerActs a) { a.probs; };
inline constexpr bool kKeepsAttentionProbabilities = keeps_attention_probabilities<LayerActivations>;

// Floats of the Activations arena for a batch of B x T (the same sum as its constructor).
inline double activation_floats(const io::ModelConfig& c, int B, int T, ActivationMemory memory) {
  const double N = double(B) * T, H = c.hidden_size, F = c.intermediate_size;
  const bool post = c.post_norms(), qk = c.qk_norms();
  const double attention = double(B) * c.num_heads * T * (kKeepsAttentionProbabilities ? double(T) : 1.0);
  const double per_layer = N * H * 4 + N * 2 + N * (c.q_dim() * 2 + c.kv_dim() * 2) + attention +
                           N * F * 3 + (post ? N * H * 2 + N * 2 : 0) +
                           (qk ? N * (c.q_dim() + c.kv_dim()) + N * (c.num_heads + c.num_kv_heads) : 0);
  const int stored = memory == ActivationMemory::AllLayers ? c.num_layers : 1;
  const int inputs = memory == ActivationMemory::LayerInputs ? c.num_layers : 0;
  return per_layer * stored + N * H * (2 + inputs) + N;
}

// Floats of Decoder::backward's per-layer workspace, its dx and (checkpointing) the recomputed layer output.
inline double backward_workspace_floats(const io::ModelConfig& c, int B, int T, ActivationMemory memory) {
  const double N = double(B) * T, H = c.hidden_size, F = c.intermediate_size;
  return N * (3 * F + H + 2 * double(c.q_dim()) + 2 * double(c.kv_dim())) + (c.post_norms() ? N * H : 0) +
         (c.qk_norms() ? N * (c.q_dim() + c.kv_dim()) : 0) + N * H /* dx */ +
         (memory == ActivationMemory::LayerInputs ? N * H : 0);
}

// Floats of the lm_head's cross-entropy chunk (layers::kCrossEntropyChunk rows at a time): the gathered
// hidden rows, their logits [rows, V] and (training) the hidden rows' gradient.
inline double lm_head_chunk_floats(const io::ModelConfig& c, double predictions, bool backward) {
  const double rows = std::min(double(layers::kCrossEntropyChunk), predictions);
  return rows * (double(c.vocab_size) + double(c.hidden_size) * (backward ? 2 : 1));
}

// Floats of LoRA's temporaries in one projection's backward (layers::lora_backward, blocks of kLoraRowBlock rows):
// the per-block weight gradients [blocks, r * in + out * r] of the largest projection, the forward's u = x A^T
// [N, r], and one block's dropped-out input, mask and dx (per thread; counted once).
inline double lora_backward_floats(const io::ModelConfig& c, int B, int T, int rank) {
  const double N = double(B) * T, blocks = std::ceil(N / double(layers::kLoraRowBlock));
  double worst = 0, in_max = 0;
  for (const auto& [in, out] : projection_shapes(c)) {
    worst = std::max(worst, double(rank) * double(in + out));
    in_max = std::max(in_max, double(in));
  }
  return blocks * worst + N * rank + 3 * double(layers::kLoraRowBlock) * in_max;
}

// The bf16 GEMM's per-thread copy of A (grows to the largest product's rows x reduction; bf16).
inline double gemm_scratch_bytes(const io::ModelConfig& c, backend::Compute compute, int B, int T, bool training) {
  if (compute != backend::Compute::Bf16) return 0;
  int64_t k = 0;
  for (const auto& [in, out] : projection_shapes(c)) k = std::max({k, in, training ? out : int64_t(0)});
  return double(B) * T * double((k + 1) / 2 * 2) * 2;
}

// The bf16 attention's whole-call operands (backend/cpu/attention_bf16.hpp, detail::AttentionOperands: the
// calling thread's, grown to the largest layer's call and kept): the forward pass's Q in pairs of a row, K
// transposed and V in pairs of keys; a step's backward pass adds dO, V transposed and K in pairs of keys. Keys
// pair up per batch row, so an odd T takes one more position per row. bf16 attention needs an even head_dim
// (layers::Bf16Products::supports); otherwise the float32 tiles run and keep nothing.
inline double attention_operand_bytes(const io::ModelConfig& c, backend::Compute compute, int B, int T, bool training) {
  if (compute != backend::Compute::Bf16 || c.head_dim % 2 != 0) return 0;
  const double rows = double(B) * T, paired = double(B) * ((T + 1) / 2 * 2);   // positions, as bf16 pairs store them
  const double one_pass = 2 * rows * double(c.q_dim()) + 2 * rows * double(c.kv_dim()) + 2 * paired * double(c.kv_dim());
  return training ? 2 * one_pass : one_pass;
}

struct Item {
  std::string what;
  double bytes;
};

// The buffers alive in one phase; peak() of an estimate is its largest phase.
struct Phase {
  std::string name;
  std::vector<Item> items;
  double bytes() const {
    double s = 0;
    for (const auto& i : items) s += i.bytes;
    return s;
  }
};

struct Estimate {
  std::vector<Phase> phases;
  const Phase& peak_phase() const {
    return *std::max_element(phases.begin(), phases.end(), [](const Phase& a, const Phase& b) { return a.bytes() < b.bytes(); });
  }
  double peak() const { return peak_phase().bytes(); }
};

// Floats of the flat buffer: every parameter, or (bf16 encoding) all but the seven projections.
inline double buffer_floats(const io::ModelConfig& c, ProjectionWeights projections = ProjectionWeights::InBuffer) {
  return double(ParameterLayout(c, projections).total());
}

// Loading (load_model): the flat buffer filled from the memory-mapped file (file_bytes: its size; 0 for a model
// built in memory, which has no load phase). Without the projections in the buffer (bf16 encoding), each is read
// into one float32 scratch matrix and packed: at the end every bf16 copy exists, the file still mapped.
inline std::vector<Phase> load_phases(const io::ModelConfig& c, double file_bytes,
                                      ProjectionWeights projections = ProjectionWeights::InBuffer) {
  if (file_bytes <= 0) return {};
  const ParameterLayout all(c);
  double largest_tensor = 0, largest_projection = 0;
  for (const auto& t : all.tensors()) largest_tensor = std::max(largest_tensor, double(t.size()));
  for (const auto& [in, out] : projection_shapes(c)) largest_projection = std::max(largest_projection, double(in) * double(out));
  const Item mapped{"model file (the tensor being read, mapped)", file_bytes * largest_tensor / double(all.total())};
  if (projections == ProjectionWeights::InBuffer) return {{"load", {{"weights (float32)", 4 * buffer_floats(c)}, mapped}}};
  return {{"load",
           {{"weights (float32, no projections)", 4 * buffer_floats(c, projections)},
            {"bf16 packed projections", packed_projection_bytes(c, backend::Compute::Bf16, false)},
            {"load scratch (one float32 projection)", 4 * largest_projection}, mapped}}};
}

// Encoding a B x T batch (embed(): forward + pooling, no logits) with the model as TextEncoder loads it for
// `compute`: float32 weights, or (bf16) the projections as bf16 copies only.
inline Estimate inference(const io::ModelConfig& c, backend::Compute compute, int B, int T, double file_bytes = 0) {
  const bool bf16 = compute == backend::Compute::Bf16;
  const ProjectionWeights projections = bf16 ? ProjectionWeights::Outside : ProjectionWeights::InBuffer;
  Phase run{"encode", {{bf16 ? "weights (float32, no projections)" : "weights (float32)", 4 * buffer_floats(c, projections)}}};
  if (bf16) {
    run.items.push_back({"bf16 packed projections", packed_projection_bytes(c, compute, false)});
    run.items.push_back({"bf16 GEMM input copy", gemm_scratch_bytes(c, compute, B, T, false)});
    run.items.push_back({"bf16 attention operands", attention_operand_bytes(c, compute, B, T, false)});
  }
  run.items.push_back({"activations (one layer)", 4 * activation_floats(c, B, T, ActivationMemory::OneLayer)});
  Estimate e{load_phases(c, file_bytes, projections)};
  e.phases.push_back(run);
  return e;
}

struct StepShape {
  int batch = 16, seq_len = 512;
  bool lora = false;                    // only a LoRA adapter trains (the base is frozen)
  LoraConfig lora_config;               // rank, targets
  ActivationMemory memory = ActivationMemory::AllLayers;
  double predicted = 0.8;               // fraction of positions the lm_head predicts (MNTP's masking rate)
  bool adamw = true;                    // AdamW's two moments (false: SGD)
};

// One MNTP/NTP step (forward, lm_head cross-entropy, backward, optimizer; Trainer::step).
inline Estimate training(const io::ModelConfig& c, backend::Compute compute, const StepShape& s, double file_bytes = 0) {
  const double P = buffer_floats(c);
  const double adapter = s.lora ? double(LoraLayout(c, s.lora_config).total()) : 0;
  const double trainable = s.lora ? adapter : P;
  const double N = double(s.batch) * s.seq_len, H = c.hidden_size;
  std::vector<Item> kept = {{"weights (float32)", 4 * P}};
  if (s.lora) kept.push_back({"LoRA adapter (float32)", 4 * adapter});
  if (compute == backend::Compute::Bf16) {
    kept.push_back({"bf16 packed projections (x W^T and dy W)", packed_projection_bytes(c, compute, true)});
    kept.push_back({"bf16 packed lm_head (h W^T and dZ W)", packed_lm_head_bytes(c, compute, true)});
    kept.push_back({"bf16 GEMM input copy", gemm_scratch_bytes(c, compute, s.batch, s.seq_len, true)});
    kept.push_back({"bf16 attention operands", attention_operand_bytes(c, compute, s.batch, s.seq_len, true)});
  }
  kept.push_back({"gradients (float32)", 4 * trainable});
  if (s.adamw) kept.push_back({"AdamW moments m, v (float32)", 8 * trainable});
  kept.push_back({std::string("activations (") + (s.memory == ActivationMemory::LayerInputs ? "layer inputs" : "all layers") + ")",
                  4 * activation_floats(c, s.batch, s.seq_len, s.memory)});
  kept.push_back({"d_hidden", 4 * N * H});

  Phase head{"lm_head cross-entropy", kept};
  head.items.push_back({"lm_head chunk (rows x vocabulary logits)",
                        4 * lm_head_chunk_floats(c, s.predicted * s.batch * std::max(0, s.seq_len - 1), true)});
  Phase back{"backward", kept};
  back.items.push_back({"backward workspace", 4 * backward_workspace_floats(c, s.batch, s.seq_len, s.memory)});
  if (s.lora) back.items.push_back({"LoRA backward temporaries", 4 * lora_backward_floats(c, s.batch, s.seq_len, s.lora_config.rank)});
  // After a full step the projections are repacked (the new copies made before the old are freed); the lm_head's
  // copies are dropped then and packed again by the next step's loss.
  Phase update{"update", kept};
  if (!s.lora && compute == backend::Compute::Bf16) {
    std::erase_if(update.items, [](const Item& i) { return i.what.starts_with("bf16 packed lm_head"); });
    update.items.push_back({"bf16 repacking (new copies before the old are freed)", packed_projection_bytes(c, compute, true)});
  }
  Estimate e{load_phases(c, file_bytes)};
  for (Phase* p : {&head, &back, &update}) e.phases.push_back(std::move(*p));
  return e;
}

}  // namespace bg2vec::memory
