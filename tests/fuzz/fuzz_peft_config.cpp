// PEFT adapter_config.json (nn/peft.hpp), then an adapter of that configuration for a small model.
#include "fuzz_support.hpp"

#include <bg2vec/nn/peft.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto path = fuzz::write_file("adapter/adapter_config.json", fuzz::text(data, size));
  fuzz::refusals_allowed([&] {
    const LoraConfig lora = peft::read_adapter_config(path.parent_path());
    io::ModelConfig model;   // a tiny Mistral-shaped decoder
    model.architecture = "MistralForCausalLM";
    model.vocab_size = 32, model.hidden_size = 16, model.intermediate_size = 24, model.num_layers = 2;
    model.num_heads = 2, model.num_kv_heads = 1, model.head_dim = 8;
    for (const auto& t : lora.targets)
      if (LoraLayout::module_index(t) < 0) return;   // load_adapter refuses these by name
    const LoraAdapter adapter(model, lora);
    (void)adapter.layout().tensors();
  });
  return 0;
}
