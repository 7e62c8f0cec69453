// error: Ntp needs an attention that hides later tokens
// Next-token prediction where every position sees its label teaches nothing: refused at compile time.
#include <bg2vec/train.hpp>

double step(const bg2vec::Decoder<bg2vec::Bidirectional>& decoder, const bg2vec::train::TrainBatch& batch,
            bg2vec::train::StepContext& ctx) {
  return bg2vec::train::Ntp{}(decoder, batch, ctx);
}
