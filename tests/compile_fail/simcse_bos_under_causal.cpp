// error: SimCse with Bos pooling under causal attention
// Under causal attention BOS sees only itself: every embedding would be the same vector.
#include <bg2vec/train.hpp>

double step(const bg2vec::Decoder<bg2vec::Causal>& decoder, const bg2vec::train::TrainBatch& batch,
            bg2vec::train::StepContext& ctx) {
  return bg2vec::train::SimCseWith<bg2vec::pool::Bos>{}(decoder, batch, ctx);
}
