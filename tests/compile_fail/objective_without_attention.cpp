// error: names_its_attention
// An objective names the attention it trains (`using attention = ...`), the trainer's default.
#include <bg2vec/train.hpp>

struct Contrastive {
  static constexpr std::string_view name = "contrastive";
  template <bg2vec::AttentionPolicy A>
  double operator()(const bg2vec::Decoder<A>&, const bg2vec::train::TrainBatch&, bg2vec::train::StepContext&) const;
};
bg2vec::train::Trainer<Contrastive, bg2vec::Bidirectional>* trainer = nullptr;
