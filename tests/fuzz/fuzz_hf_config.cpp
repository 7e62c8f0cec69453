// Hugging Face config.json of every supported architecture (io/hf_config.hpp). What is accepted must
// also survive the way back: to_json() of the config reads back as the same shape.
#include "fuzz_support.hpp"

#include <bg2vec/io/hf_config.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("model/config.json", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const io::ModelConfig c = io::load_config(path.parent_path());
    if (c.num_layers > 4096) return;   // to_json writes one layer type per layer: the way back is for real sizes
    io::ModelConfig back;
    try {
      back = io::parse_config(io::to_json(c), path);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      fuzz::check(false, "a config we accept reads back after to_json");
    }
    fuzz::check(back.architecture == c.architecture && back.hidden_size == c.hidden_size && back.num_layers == c.num_layers &&
                    back.head_dim == c.head_dim && back.num_kv_heads == c.num_kv_heads && back.sliding_layers == c.sliding_layers &&
                    back.sliding_window == c.sliding_window && back.tie_word_embeddings == c.tie_word_embeddings,
                "to_json keeps the shape");
    for (int l = 0; l < c.num_layers; ++l) (void)c.rope_theta_of_layer(l), (void)c.window_of_layer(l);
  });
  return 0;
}
