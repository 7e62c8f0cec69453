#pragma once
// A new model from a config: every matrix ~ normal(0, initializer_range) (0.02 when the config does not
// say), norms the identity (weights 1; Gemma-2's 0, as its norms multiply by 1 + w), the pad row of the
// embedding zero, as transformers initialises Llama/Mistral/Gemma-2.
// Deterministic for a seed on every platform (own normal sampler: std::normal_distribution is not).
#include <bg2vec/nn/model.hpp>

#include <cmath>
#include <random>

namespace bg2vec::train {

inline void initialise(Model& model, uint64_t seed) {
  const auto& c = model.config();
  const double std_dev = c.raw.is_object() && c.raw.contains("initializer_range") && c.raw["initializer_range"].is_number()
                             ? c.raw["initializer_range"].get<double>() : 0.02;
  std::mt19937_64 rng(seed);
  auto uniform = [&rng] { return (double(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0); };   // (0, 1)
  for (const auto& p : model.layout().tensors()) {
    auto values = model.parameter(p.name);
    if (p.shape.size() == 1) { std::fill(values.begin(), values.end(), 1.0f - c.norm_weight_offset()); continue; }
    for (size_t i = 0; i < values.size(); i += 2) {   // Box-Muller: two normals per pair of uniforms
      const double r = std::sqrt(-2.0 * std::log(uniform())), a = 2.0 * M_PI * uniform();
      values[i] = float(std_dev * r * std::cos(a));
      if (i + 1 < values.size()) values[i + 1] = float(std_dev * r * std::sin(a));
    }
  }
  const int pad = c.pad_token_id;
  if (pad >= 0 && pad < c.vocab_size) model.weights().embed.row(pad).setZero();
}

}  // namespace bg2vec::train
