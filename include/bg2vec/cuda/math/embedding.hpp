#pragma once
// Token embeddings (nn/embedding.hpp is the reference): the gather out[n] = scale table[ids[n]], and its
// backward, a scatter-add. The scatter is written per table row: the host groups the positions of each id
// (positions_of_ids), and one block adds a row's positions in order, so the sum is deterministic and needs no
// atomics (one id may occur at many positions).
#include <bg2vec/cuda/host_device.hpp>

#include <cstdint>
#include <vector>

namespace bg2vec::cuda {

template <class Lane, class W>
BG2VEC_HOST_DEVICE void embedding_gather_row(const Lane& lane, const W* table_row, float scale, int n, float* out) {
  for (int j = lane.first(); j < n; j += lane.stride()) out[j] = to_float(table_row[j]) * scale;
}

// dtable_row += scale sum_k dout[positions[k]], the positions in their order.
template <class Lane, class G>
BG2VEC_HOST_DEVICE void embedding_scatter_row(const Lane& lane, const int32_t* positions, int count, const G* dout,
                                              float scale, int n, float* dtable_row) {
  for (int j = lane.first(); j < n; j += lane.stride()) {
    float s = dtable_row[j];
    for (int k = 0; k < count; ++k) s += to_float(dout[size_t(positions[k]) * n + j]) * scale;
    dtable_row[j] = s;
  }
}

// The positions of each distinct id, grouped (CSR): ids[r] occurs at positions[offsets[r]..offsets[r+1]).
struct IdPositions {
  std::vector<int32_t> ids, offsets, positions;
};
inline IdPositions positions_of_ids(const int32_t* token_ids, int tokens, int vocab) {
  std::vector<int32_t> count(size_t(vocab), 0);
  for (int n = 0; n < tokens; ++n) ++count[size_t(token_ids[n])];
  IdPositions p;
  std::vector<int32_t> start(size_t(vocab), 0);
  p.offsets.push_back(0);
  for (int id = 0; id < vocab; ++id)
    if (count[size_t(id)] > 0) {
      p.ids.push_back(id);
      start[size_t(id)] = p.offsets.back();
      p.offsets.push_back(p.offsets.back() + count[size_t(id)]);
    }
  p.positions.resize(size_t(tokens));
  for (int n = 0; n < tokens; ++n) p.positions[size_t(start[size_t(token_ids[n])]++)] = n;
  return p;
}

}  // namespace bg2vec::cuda
