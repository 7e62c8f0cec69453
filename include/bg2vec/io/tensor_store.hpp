#pragma once
// The weights of a model folder, whether in one `model.safetensors` or sharded with
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). One lookup API for both.
#include <bg2vec/io/safetensors.hpp>

#include <fstream>
#include <memory>

namespace bg2vec::io {

class TensorStore {
 public:
  explicit TensorStore(const std::filesystem::path& dir) : dir_(dir) {
    const auto single = dir / "model.safetensors";
    const auto index = dir / "model.safetensors.index.json";
    if (std::filesystem::exists(index)) open_sharded(index);
    else if (std::filesystem::exists(single)) open_shard(single);
    else fail(dir, "no model.safetensors or model.safetensors.index.json in this folder");
  }

  bool contains(const std::string& name) const { return owner_.count(name) != 0; }
  const SafetensorsFile& file_of(const std::string& name) const {
    auto it = owner_.find(name);
    if (it == owner_.end()) fail(dir_, "the model has no tensor '" + name + "'");
    return *it->second;
  }
  const TensorInfo& info(const std::string& name) const { return file_of(name).info(name); }
  Shape shape(const std::string& name) const { return info(name).shape; }
  const std::filesystem::path& path() const { return dir_; }
  const std::filesystem::path& path_of(const std::string& name) const { return file_of(name).path(); }
  std::string describe(const std::string& name) const { return "'" + name + "'"; }
  void read_float32(const std::string& name, std::span<float> out) const { file_of(name).read_float32(name, out); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, file] : owner_) out.push_back(name);
    return out;
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void open_sharded(const std::filesystem::path& index_path) {
    nlohmann::json index;
    try {
      std::ifstream in(index_path);
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail(index_path, std::string("not valid JSON: ") + e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) fail(index_path, "missing \"weight_map\" object");
    std::map<std::string, const SafetensorsFile*> shard_by_name;
    for (auto& [tensor, shard] : index["weight_map"].items()) {
      if (!shard.is_string()) fail(index_path, "weight_map entry for '" + tensor + "' is not a file name");
      const std::string file = shard.get<std::string>();
      if (!shard_by_name.count(file)) shard_by_name[file] = &open_shard(dir_ / file);
      const SafetensorsFile* f = shard_by_name[file];
      if (!f->contains(tensor)) fail(f->path(), "the index says it holds '" + tensor + "', but it does not");
      owner_[tensor] = f;
    }
  }

  const SafetensorsFile& open_shard(const std::filesystem::path& path) {
    shards_.push_back(std::make_unique<SafetensorsFile>(path));
    const SafetensorsFile& f = *shards_.back();
    for (const auto& [name, info] : f.tensors()) owner_.try_emplace(name, &f);
    return f;
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*> owner_;
};

}  // namespace bg2vec::io
