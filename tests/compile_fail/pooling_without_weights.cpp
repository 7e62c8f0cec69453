// error: gives_weights
// A pooling must give each row's token weights, weights(batch, b, w); this one computes a vector instead.
#include <bg2vec/nn.hpp>

struct FirstAndLast {
  static constexpr std::string_view name = "first-and-last";
  static bg2vec::Matrix pool(const bg2vec::Matrix& hidden, const bg2vec::TokenBatch& batch);
};
bg2vec::Matrix embed(const bg2vec::Model& model, const bg2vec::TokenBatch& batch) {
  return bg2vec::embed<bg2vec::Bidirectional, FirstAndLast>(model, batch);
}
