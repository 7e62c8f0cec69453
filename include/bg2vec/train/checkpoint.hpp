#pragma once
// Training checkpoints: everything a killed run needs to go on as if it had not stopped.
//   <out>/checkpoint/state.safetensors   "params" (the trainable flat buffer), "adamw.m", "adamw.v"
//   <out>/checkpoint/trainer_state.json  step, optimizer steps, seed, objective, sizes, and the
//                                        FNV-1a checksum of state.safetensors
// The data order, masking and dropout of step s are functions of (seed, s), so (seed, step) is the
// whole RNG state. A checkpoint is written into a temporary folder and renamed into place; the old
// one is renamed aside first and removed last, so a crash at any point leaves a complete checkpoint
// (`checkpoint`, or `checkpoint.old` when the crash fell between the two renames).
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/train/optimizer.hpp>

#include <fstream>
#include <optional>

namespace bg2vec::train {

struct CheckpointState {
  int64_t step = 0;
  uint64_t seed = 0;
  std::string objective;
};

inline uint64_t fnv1a(std::span<const std::byte> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (std::byte b : bytes) { h ^= uint64_t(b); h *= 0x100000001b3ull; }
  return h;
}

inline void save_checkpoint(const std::filesystem::path& out_dir, std::span<const float> params, AdamW* adamw,
                            const CheckpointState& state) {
  const auto final_dir = out_dir / "checkpoint", old_dir = out_dir / "checkpoint.old";
  const auto temp_dir = out_dir / ("checkpoint.tmp." + std::to_string(::getpid()));
  // What a killed run left mid-write (one writer per folder: bg2vec train holds its lock, core/folder_lock.hpp).
  for (const auto& entry : std::filesystem::directory_iterator(out_dir))
    if (entry.path().filename().string().starts_with("checkpoint.tmp.")) std::filesystem::remove_all(entry.path());
  std::filesystem::create_directories(temp_dir);
  io::SafetensorsWriter writer;
  const Shape shape{int64_t(params.size())};
  writer.add("params", shape, params);
  if (adamw) {
    writer.add("adamw.m", shape, std::span<const float>(adamw->m()));
    writer.add("adamw.v", shape, std::span<const float>(adamw->v()));
  }
  writer.save(temp_dir / "state.safetensors");
  const io::MappedFile written(temp_dir / "state.safetensors");
  const nlohmann::json j = {{"step", state.step}, {"seed", state.seed}, {"objective", state.objective},
                            {"parameters", params.size()}, {"optimizer", adamw ? "adamw" : "sgd"},
                            {"adamw_steps", adamw ? adamw->steps() : 0},
                            {"checksum", std::to_string(fnv1a(written.bytes()))}};
  write_file_atomically(temp_dir / "trainer_state.json", j.dump(2) + "\n");
  std::filesystem::remove_all(old_dir);
  if (std::filesystem::exists(final_dir)) std::filesystem::rename(final_dir, old_dir);
  std::filesystem::rename(temp_dir, final_dir);
  std::filesystem::remove_all(old_dir);
}

// The checkpoint folder to resume from, if any.
inline std::optional<std::filesystem::path> find_checkpoint(const std::filesystem::path& out_dir) {
  for (const char* name : {"checkpoint", "checkpoint.old"})
    if (std::filesystem::exists(out_dir / name / "trainer_state.json")) return out_dir / name;
  return std::nullopt;
}

// Restores params and optimizer state; every check happens before anything is written, and a
// damaged or foreign checkpoint is refused naming the file and the problem.
inline CheckpointState load_checkpoint(const std::filesystem::path& dir, std::span<float> params, AdamW* adamw,
                                       const std::string& objective) {
  const auto json_file = dir / "trainer_state.json", state_file = dir / "state.safetensors";
  nlohmann::json j;
  {
    std::ifstream in(json_file);
    if (!in) fail(json_file, "cannot open");
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail(json_file, std::string("damaged checkpoint: not valid JSON: ") + e.what());
    }
  }
  if (!j.is_object()) fail(json_file, "damaged checkpoint: not a JSON object");
  for (const char* key : {"step", "seed", "objective", "parameters", "optimizer", "checksum"})
    if (!j.contains(key)) fail(json_file, std::string("damaged checkpoint: missing \"") + key + "\"");
  // Every field of the type it must have, before any is used (a string where a number belongs is damage).
  for (const char* key : {"objective", "optimizer", "checksum"})
    if (!j[key].is_string()) fail(json_file, std::string("damaged checkpoint: \"") + key + "\" is not a string");
  for (const char* key : {"step", "seed", "parameters"})
    if (!j[key].is_number_unsigned()) fail(json_file, std::string("damaged checkpoint: \"") + key + "\" is not a non-negative integer");
  if (adamw && !(j.contains("adamw_steps") && j["adamw_steps"].is_number_unsigned()))
    fail(json_file, "damaged checkpoint: \"adamw_steps\" is not a non-negative integer");
  if (!std::filesystem::exists(state_file)) fail(state_file, "damaged checkpoint: file missing");
  const io::SafetensorsFile file(state_file);
  if (std::to_string(fnv1a(io::MappedFile(state_file).bytes())) != j["checksum"].get<std::string>())
    fail(state_file, "damaged checkpoint: checksum mismatch (the file changed after it was written)");
  if (j["objective"].get<std::string>() != objective)
    fail(json_file, "the checkpoint is of objective " + j["objective"].get<std::string>() + ", this run trains " + objective);
  if (j["parameters"].get<size_t>() != params.size())
    fail(json_file, "the checkpoint holds " + std::to_string(j["parameters"].get<size_t>()) +
                        " trainable parameters, this model/adapter has " + std::to_string(params.size()));
  if (j["optimizer"].get<std::string>() != (adamw ? "adamw" : "sgd"))
    fail(json_file, "the checkpoint was written with optimizer " + j["optimizer"].get<std::string>());
  std::vector<float> m, v;
  if (adamw) {   // moments of the parameters' size, or the file is refused (read_float32 checks the count)
    m.resize(params.size());
    v.resize(params.size());
    file.read_float32("adamw.m", m);
    file.read_float32("adamw.v", v);
  }
  file.read_float32("params", params);
  if (adamw) {
    adamw->m() = std::move(m);
    adamw->v() = std::move(v);
    adamw->steps() = j["adamw_steps"].get<int64_t>();
  }
  return {j["step"].get<int64_t>(), j["seed"].get<uint64_t>(), j["objective"].get<std::string>()};
}

}  // namespace bg2vec::train
