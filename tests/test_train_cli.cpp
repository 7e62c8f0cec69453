// `bg2vec step` and `bg2vec train`, run as the built binary. step with SGD changes every weight by
// exactly lr x the gradient that transformers computes; with --adapter only the PEFT adapter changes.
// train pretrains a model from a config on token shards, resumes after an interruption, and writes an
// HF folder with bg2vec.json. Bad input fails with one clear line and writes nothing.
#include <bg2vec/core/folder_lock.hpp>
#include <bg2vec/data/shards.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/train.hpp>
#include <doctest/doctest.h>

#include "support.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace test_train_cli {

using namespace bg2vec;

namespace {

const io::SafetensorsFile& reference(const std::string& fixture = "mistral-dev") { return test::hf_reference(fixture); }

struct Run {
  int status;
  std::string output;
};

Run run(const std::string& args, const std::filesystem::path& log) {
  const std::string command = std::string(BG2VEC_CLI) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WEXITSTATUS(status), text.str()};
}

// A batch file from fixture tensors: {name in the file: name in reference.safetensors}.
void write_batch(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& tensors,
                 const std::string& fixture = "mistral-dev") {
  io::SafetensorsWriter writer;
  for (const auto& [name, source] : tensors)
    writer.add(name, reference(fixture).info(source).shape, std::span<const int64_t>(reference(fixture).read_int64(source)));
  writer.save(path);
}

struct Case {
  std::string objective, grads;
  std::vector<std::pair<std::string, std::string>> batch;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"ntp", "ntp_grad", {{"input_ids", "input_ids"}, {"attention_mask", "attention_mask"}}},
      {"mntp", "mntp_grad", {{"input_ids", "mntp_input_ids"}, {"attention_mask", "attention_mask"}, {"labels", "mntp_labels"}}},
      {"simcse", "simcse_grad", {{"input_ids", "input_ids"}, {"attention_mask", "attention_mask"},
                                 {"positive_input_ids", "mntp_input_ids"}, {"positive_attention_mask", "attention_mask"}}}};
  return all;
}

// Train and val shards of 8 blocks of 16 ids within the fixtures' 384-piece vocabulary.
void write_fixture_shards(const std::filesystem::path& dir) {
  for (const std::string split : {"train", "val"}) {
    data::ShardWriter writer(data::shard_path(dir, split, 0), 384, 16);
    for (int block = 0; block < 8; ++block) {
      std::vector<int32_t> ids(16);
      for (int t = 0; t < 16; ++t) ids[size_t(t)] = 5 + (block * 7 + t * 11) % 370;
      writer.write_block(ids);
    }
    writer.finish();
  }
}

}  // namespace

TEST_CASE("bg2vec step with SGD changes each weight by lr x the gradient of transformers") {
  test::TempDir dir("cli-step");
  const Model before = load_model(test::fixture("hf/mistral-dev"));
  const float lr = 0.1f;
  for (const Case& c : cases()) {
    CAPTURE(c.objective);
    write_batch(dir / (c.objective + ".safetensors"), c.batch);
    const auto out = dir / ("out-" + c.objective);
    const Run r = run("step --model " + test::fixture("hf/mistral-dev").string() + " --batch " + (dir / (c.objective + ".safetensors")).string() +
                          " --objective " + c.objective + " --optimizer sgd --lr 0.1 --out " + out.string(), dir / "log");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const Model after = load_model(out);
    double worst = 0;
    for (const auto& p : before.layout().tensors()) {
      std::vector<float> step(p.size());
      const auto b = before.parameter(p.name), a = after.parameter(p.name);
      for (size_t i = 0; i < p.size(); ++i) step[i] = (b[i] - a[i]) / lr;
      worst = std::max(worst, test::relative_error(step, reference().read_float32(c.grads + "." + p.name)));
    }
    CHECK(worst < 1e-3);
    MESSAGE(c.objective << ": worst relative error of (before - after)/lr against the gradient " << worst);
  }
}

TEST_CASE("bg2vec step --adapter trains only the adapter and writes it in PEFT format") {
  test::TempDir dir("cli-step-lora");
  write_batch(dir / "mntp.safetensors", cases()[1].batch);
  const Run r = run("step --model " + test::fixture("hf/mistral-dev").string() + " --batch " + (dir / "mntp.safetensors").string() +
                        " --objective mntp --optimizer sgd --lr 0.1 --adapter " + test::fixture("hf/mistral-dev/lora").string() +
                        " --out " + (dir / "adapter").string(), dir / "log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(std::filesystem::exists(dir / "adapter/adapter_config.json"));
  CHECK(!std::filesystem::exists(dir / "adapter/model.safetensors"));
  const auto config = load_model(test::fixture("hf/mistral-dev")).config();
  const LoraAdapter before = peft::load_adapter(test::fixture("hf/mistral-dev/lora"), config);
  const LoraAdapter after = peft::load_adapter(dir / "adapter", config);
  double worst = 0;
  for (const auto& t : before.layout().tensors()) {
    std::vector<float> step(t.size());
    for (size_t i = 0; i < t.size(); ++i) step[i] = (before.parameter(t)[i] - after.parameter(t)[i]) / 0.1f;
    const std::string ref = "lora_mntp_grad." + t.name.substr(0, t.name.size() - 7) + ".default.weight";
    worst = std::max(worst, test::relative_error(step, reference().read_float32(ref)));
  }
  CHECK(worst < 1e-3);
}

// Gemma-2 and -3: MNTP and SimCSE (bidirectional) and the adapter. NTP is left out: `step` trains it
// under `Causal`, which honours Gemma's sliding window, while the fixture's NTP gradients used a causal
// mask without it (test_train_parity checks NTP under that mask).
TEST_CASE_TEMPLATE("bg2vec step on Gemma: SGD changes each weight by lr x transformers' gradient, --adapter too", F,
                   test::Gemma2Dev, test::Gemma3Dev) {
  const std::string name = F::name;
  test::TempDir dir("cli-step-" + name);
  const std::string model_dir = test::fixture("hf/" + name).string();
  const Model before = load_model(model_dir);
  // (before - after) / lr measures the gradient only as finely as float32 resolves the weights: gemma3-dev's
  // SimCSE gradients are ~1e-4 of weights ~0.4, so at lr 0.1 the weights' rounding alone is 1e-3 of the
  // gradient. Its steps are 100 times larger (SGD's update is lr x gradient at any lr).
  const float lr = std::is_same_v<F, test::Gemma3Dev> ? 10.0f : 0.1f;
  const std::string lr_arg = std::is_same_v<F, test::Gemma3Dev> ? "10" : "0.1";
  for (const Case& c : {cases()[1], cases()[2]}) {
    CAPTURE(c.objective);
    write_batch(dir / (c.objective + ".safetensors"), c.batch, name);
    const auto out = dir / ("out-" + c.objective);
    const Run r = run("step --model " + model_dir + " --batch " + (dir / (c.objective + ".safetensors")).string() +
                          " --objective " + c.objective + " --optimizer sgd --lr " + lr_arg + " --out " + out.string(), dir / "log");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const Model after = load_model(out);
    CHECK(after.config().architecture == before.config().architecture);
    CHECK(after.layout().tensors().size() == before.layout().tensors().size());
    double worst = 0;
    for (const auto& p : before.layout().tensors()) {
      std::vector<float> step(p.size());
      const auto b = before.parameter(p.name), a = after.parameter(p.name);
      for (size_t i = 0; i < p.size(); ++i) step[i] = (b[i] - a[i]) / lr;
      worst = std::max(worst, test::relative_error(step, reference(name).read_float32(c.grads + "." + p.name)));
    }
    CHECK(worst < 1e-3);
    MESSAGE(name << " " << c.objective << ": worst relative error of (before - after)/lr against the gradient " << worst);
  }

  const Run r = run("step --model " + model_dir + " --batch " + (dir / "mntp.safetensors").string() +
                        " --objective mntp --optimizer sgd --lr " + lr_arg + " --adapter " + model_dir + "/lora --out " +
                        (dir / "adapter").string(), dir / "log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const LoraAdapter adapter_before = peft::load_adapter(model_dir + "/lora", before.config());
  const LoraAdapter adapter_after = peft::load_adapter(dir / "adapter", before.config());
  double worst = 0;
  for (const auto& t : adapter_before.layout().tensors()) {
    std::vector<float> step(t.size());
    for (size_t i = 0; i < t.size(); ++i) step[i] = (adapter_before.parameter(t)[i] - adapter_after.parameter(t)[i]) / lr;
    const std::string ref = "lora_mntp_grad." + t.name.substr(0, t.name.size() - 7) + ".default.weight";
    worst = std::max(worst, test::relative_error(step, reference(name).read_float32(ref)));
  }
  CHECK(worst < 1e-3);
  MESSAGE(name << " step --adapter: worst relative error of (before - after)/lr against PEFT's gradient " << worst);
}

TEST_CASE("bg2vec step refuses bad input with one clear line and writes nothing") {
  test::TempDir dir("cli-step-bad");
  const std::string model = " --model " + test::fixture("hf/mistral-dev").string();
  const auto out = dir / "out";
  auto expect_error = [&](const std::string& args, const std::string& message) {
    CAPTURE(args);
    const Run r = run("step" + model + args + " --out " + out.string(), dir / "log");
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.output.find(message) != std::string::npos, r.output);
    CHECK(!std::filesystem::exists(out));
  };
  {   // attention_mask of another shape
    io::SafetensorsWriter w;
    w.add("input_ids", Shape{3, 16}, std::span<const int64_t>(reference().read_int64("input_ids")));
    std::vector<int64_t> mask(3 * 15, 1);
    w.add("attention_mask", Shape{3, 15}, std::span<const int64_t>(mask));
    w.save(dir / "shapes.safetensors");
  }
  expect_error(" --batch " + (dir / "shapes.safetensors").string() + " --objective ntp --optimizer sgd --lr 1",
               "shapes.safetensors: 'attention_mask' has shape [3, 15] but 'input_ids' has [3, 16]");
  {   // a label outside the vocabulary
    auto labels = reference().read_int64("mntp_labels");
    labels[5] = 384;
    io::SafetensorsWriter w;
    w.add("input_ids", Shape{3, 16}, std::span<const int64_t>(reference().read_int64("mntp_input_ids")));
    w.add("attention_mask", Shape{3, 16}, std::span<const int64_t>(reference().read_int64("attention_mask")));
    w.add("labels", Shape{3, 16}, std::span<const int64_t>(labels));
    w.save(dir / "labels.safetensors");
  }
  expect_error(" --batch " + (dir / "labels.safetensors").string() + " --objective mntp --optimizer sgd --lr 1",
               "labels.safetensors: label 384 at [0, 5] is out of range");
  write_batch(dir / "ntp.safetensors", cases()[0].batch);
  expect_error(" --batch " + (dir / "ntp.safetensors").string() + " --objective mntp --optimizer sgd --lr 1", "needs a 'labels' tensor");
  expect_error(" --batch " + (dir / "ntp.safetensors").string() + " --objective mlm --optimizer sgd --lr 1", "unknown objective 'mlm'");
}

TEST_CASE("bg2vec train: pretrain from a config on shards, resume after an interruption, HF folder + bg2vec.json") {
  test::TempDir dir("cli-train");
  const nlohmann::json config = {{"architectures", {"MistralForCausalLM"}}, {"vocab_size", 64}, {"hidden_size", 32},
                                 {"intermediate_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                                 {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}};
  write_file_atomically(dir / "config.json", config.dump());
  for (const std::string split : {"train", "val"}) {   // a repetitive "language": easy to learn
    data::ShardWriter writer(data::shard_path(dir / "shards", split, 0), 64, 16);
    for (int block = 0; block < 24; ++block) {
      std::vector<int32_t> ids(16);
      for (int t = 0; t < 16; ++t) ids[size_t(t)] = 3 + (block + t * 5) % 60;
      writer.write_block(ids);
    }
    writer.finish();
  }
  const std::string common = "train --objective ntp --init-config " + (dir / "config.json").string() + " --shards " +
                             (dir / "shards").string() + " --out " + (dir / "out").string() +
                             " --batch-size 4 --seq-len 16 --lr 1e-2 --warmup 2 --val-every 5 --checkpoint-every 5 --no-progress";
  Run r = run(common + " --steps 10", dir / "log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  r = run(common + " --steps 20", dir / "log");            // the same run, extended: resumes at step 10
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("resuming from") != std::string::npos);
  std::ifstream log(dir / "out/train_log.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(log, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 20);
  for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i]["step"] == int(i + 1));
  CHECK(lines.back()["loss"].get<double>() < lines.front()["loss"].get<double>() * 0.7);
  CHECK(lines[4].contains("val_loss"));
  const Model model = load_model(dir / "out");
  CHECK(model.config().vocab_size == 64);
  std::ifstream settings(dir / "out/bg2vec.json");
  const auto j = nlohmann::json::parse(settings);
  CHECK(j["attention"] == "causal");

  // a damaged checkpoint stops the run before anything is overwritten
  const auto weights_time = std::filesystem::last_write_time(dir / "out/model.safetensors");
  std::filesystem::resize_file(dir / "out/checkpoint/state.safetensors", 50);
  r = run(common + " --steps 30", dir / "log");
  CHECK(r.status != 0);
  CHECK_MESSAGE(r.output.find("checkpoint/state.safetensors") != std::string::npos, r.output);
  CHECK(std::filesystem::last_write_time(dir / "out/model.safetensors") == weights_time);
}

TEST_CASE_TEMPLATE("bg2vec train: MNTP with LoRA on a Gemma folder, then SimCSE on the result", F, test::Gemma2Dev,
                   test::Gemma3Dev) {
  const std::string name = F::name;
  test::TempDir dir("cli-train-" + name);
  write_fixture_shards(dir / "shards");
  const std::string shards = " --shards " + (dir / "shards").string() + " --batch-size 2 --seq-len 16 --steps 3 --no-progress";
  Run r = run("train --objective mntp --model " + test::fixture("hf/" + name).string() + shards +
                  " --mask-token-id 4 --mask-rate 0.3 --lora-rank 4 --lr 1e-3 --val-every 3 --out " + (dir / "mntp").string(),
              dir / "log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  r = run("train --objective simcse --model " + (dir / "mntp").string() + shards + " --lora-rank 4 --lr 1e-3 --out " +
              (dir / "encoder").string(), dir / "log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const Model original = load_model(test::fixture("hf/" + name)), trained = load_model(dir / "encoder");
  CHECK(trained.config().architecture == original.config().architecture);
  CHECK(trained.config().sliding_layers == original.config().sliding_layers);
  CHECK(trained.config().window_of_layer(0) == original.config().window_of_layer(0));
  CHECK(trained.config().rope_local_theta == original.config().rope_local_theta);
  CHECK(test::relative_error(trained.parameters(), original.parameters()) > 0);   // the merged adapters changed it
  for (const char* stage : {"mntp", "encoder"}) {
    std::ifstream log(dir / stage / "train_log.jsonl");
    for (std::string line; std::getline(log, line);) CHECK(std::isfinite(nlohmann::json::parse(line)["loss"].get<double>()));
  }
  std::ifstream settings(dir / "encoder/bg2vec.json");
  CHECK(nlohmann::json::parse(settings)["attention"] == "bidirectional");
}

TEST_CASE("bg2vec train checks its output folder, memory and disk before any work") {
  test::TempDir dir("cli-train-limits");
  write_fixture_shards(dir / "shards");
  const std::string common = "train --objective ntp --model " + test::fixture("hf/mistral-dev").string() + " --shards " +
                             (dir / "shards").string() + " --steps 2 --no-progress --out ";
  const std::string small = " --batch-size 2 --seq-len 16";
  auto expect_error = [&](const std::string& args, const std::string& message) {
    CAPTURE(args);
    const Run r = run(common + args + (args.find("--batch-size") == std::string::npos ? small : ""), dir / "log");
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.output.find(message) != std::string::npos, r.output);
  };

  // a folder of someone else's files is not written into unless asked
  const auto theirs = dir / "theirs";
  write_file_atomically(theirs / "notes.txt", "keep me\n");
  expect_error(theirs.string(), "theirs: already exists and holds files but no checkpoint to resume");
  CHECK(!std::filesystem::exists(theirs / "model.safetensors"));
  Run r = run(common + theirs.string() + small + " --overwrite", dir / "log");
  CHECK_MESSAGE(r.status == 0, r.output);
  CHECK(std::filesystem::exists(theirs / "model.safetensors"));
  CHECK(std::filesystem::exists(theirs / "notes.txt"));

  // an output that cannot be a folder (a path under a file), and a folder another run is writing
  expect_error((dir / "shards" / "train-00000.bin" / "out").string(), "cannot create the folder");
  {
    const FolderLock busy(dir / "busy");
    expect_error((dir / "busy").string(), "another process is writing to this folder");
  }
  r = run(common + (dir / "busy").string() + small, dir / "log");   // free again once the holder is gone
  CHECK_MESSAGE(r.status == 0, r.output);

  // a run that cannot fit in memory is refused with the estimate, before the model is read
  // and leaves nothing behind: not the folder it had to create, not its lock in a folder that was there
  expect_error((dir / "huge").string() + " --batch-size 200000 --seq-len 4096", "of memory at its peak and");
  CHECK(!std::filesystem::exists(dir / "huge"));
  std::filesystem::create_directory(dir / "empty");
  expect_error((dir / "empty").string() + " --batch-size 200000 --seq-len 4096", "of memory at its peak and");
  CHECK(std::filesystem::is_empty(dir / "empty"));
}

}  // namespace test_train_cli
