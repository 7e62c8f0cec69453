// error: Mntp trains bidirectional attention
// MNTP on a causal decoder would predict masked tokens from the left context only: refused at compile time.
#include <bg2vec/train.hpp>

double step(const bg2vec::Decoder<bg2vec::Causal>& decoder, const bg2vec::train::TrainBatch& batch,
            bg2vec::train::StepContext& ctx) {
  return bg2vec::train::Mntp{}(decoder, batch, ctx);
}
