// A GGUF file as a model: its metadata as a Hugging Face config (gguf/model_config.hpp, every supported
// architecture), its tensors under their Hugging Face names, each read with llama.cpp's conventions undone.
#include "fuzz_support.hpp"

#include <bg2vec/gguf/model_tensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("model.gguf", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const gguf::GgufFile file(path);
    const io::ModelConfig config = gguf::model_config(file);
    fuzz::check(config.num_heads % config.num_kv_heads == 0 && config.head_dim % 2 == 0, "a config's heads fit");
    const gguf::ModelTensors tensors(file, config);
    for (const std::string& name : tensors.names())
      fuzz::refusals_allowed([&] {
        std::vector<float> values(size_t(element_count(tensors.shape(name))));
        tensors.read_float32(name, values);
      });
  });
  return 0;
}
