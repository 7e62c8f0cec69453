// Training checkpoints (train/checkpoint.hpp): trainer_state.json and state.safetensors, cut from one input
// at the first "\n\x01\n". So that the fuzzer gets past the checksum, "@CHECKSUM@" in the JSON becomes
// the state file's real checksum. The run resuming has 6 parameters, AdamW when the JSON says so.
#include "fuzz_support.hpp"

#include <bg2vec/train/checkpoint.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bg2vec;
  const auto parts = fuzz::split(fuzz::text(data, size), "\n\x01\n", 2);
  std::string json(parts[0]);
  const auto state = fuzz::write_file("checkpoint/state.safetensors", parts[1]);
  const std::string checksum = std::to_string(train::fnv1a(std::as_bytes(std::span(parts[1].data(), parts[1].size()))));
  for (size_t at; (at = json.find("@CHECKSUM@")) != std::string::npos;) json.replace(at, 10, checksum);
  fuzz::write_file("checkpoint/trainer_state.json", json);
  std::vector<float> params(6, 0.5f);
  train::AdamW adamw;
  const bool with_adamw = json.find("\"adamw\"") != std::string::npos;
  fuzz::refusals_allowed([&] {
    const train::CheckpointState s = train::load_checkpoint(state.parent_path(), params, with_adamw ? &adamw : nullptr, "mntp");
    fuzz::check(s.objective == "mntp", "a checkpoint of another objective is refused");
    if (with_adamw) fuzz::check(adamw.m().size() == params.size() && adamw.v().size() == params.size(), "moments fit");
  });
  return 0;
}
