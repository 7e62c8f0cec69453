// bg2vec encode: token ids or texts in, pooled embeddings (and optionally logits) out, as safetensors.
#include "cli.hpp"

#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/core/jsonl.hpp>

#include <fstream>

namespace bg2vec::cli {
namespace {

// Rows [begin, end) of a batch, trimmed to nothing: the model sees the same [rows, T] it would whole.
TokenBatch rows_of(const TokenBatch& all, int begin, int end) {
  TokenBatch part;
  part.batch = end - begin;
  part.seq_len = all.seq_len;
  const auto from = size_t(begin) * size_t(all.seq_len), to = size_t(end) * size_t(all.seq_len);
  part.ids.assign(all.ids.begin() + long(from), all.ids.begin() + long(to));
  part.mask.assign(all.mask.begin() + long(from), all.mask.begin() + long(to));
  return part;
}

std::vector<std::string> read_texts(const po::variables_map& vm) {
  std::vector<std::string> texts;
  if (vm.count("text-file")) {
    const std::filesystem::path file = vm["text-file"].as<std::string>();
    std::ifstream in(file);
    if (!in) fail(file, "cannot open");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) texts.push_back(line);
    if (texts.empty()) fail(file, "no texts (the file has no non-empty line)");
  } else {
    const std::filesystem::path file = vm["jsonl"].as<std::string>();
    const std::string field = vm["field"].as<std::string>();
    read_jsonl(file, [&](const nlohmann::json& record, size_t line) { texts.push_back(jsonl_string(record, field.c_str(), file, line)); });
    if (texts.empty()) fail(file, "no JSON lines: nothing to encode");
  }
  return texts;
}

int encode(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "model folder (Hugging Face layout) or GGUF file")
      ("ids", po::value<std::string>(), "safetensors with input_ids and attention_mask [B, T] (int64, right padding)")
      ("text-file", po::value<std::string>(), "texts, one per line (uses the folder's tokenizer.model)")
      ("jsonl", po::value<std::string>(), "texts as JSON lines (with --field)")
      ("field", po::value<std::string>()->default_value("text"), "JSON field holding the text")
      ("attention", po::value<std::string>()->default_value(""), "causal | bidirectional (default: the folder's bg2vec.json, else causal)")
      ("pooling", po::value<std::string>()->default_value(""), "mean | weighted-mean | last | bos (default: bg2vec.json, else weighted-mean)")
      ("out", po::value<std::string>()->required(), "output safetensors: embeddings [B, H] float32")
      ("logits", po::bool_switch(), "also write logits [B, T, V] (--ids only)")
      ("batch-size", po::value<int>()->default_value(16), "sequences per forward pass");
  add_compute_option(options);
  po::variables_map vm;
  if (!parse("encode", "Encode token ids or texts into embeddings with a chosen attention and pooling.", options, args, vm))
    return 0;
  const int inputs = int(vm.count("ids") + vm.count("text-file") + vm.count("jsonl"));
  if (inputs != 1) fail("give exactly one of --ids, --text-file, --jsonl");
  const int batch_size = vm["batch-size"].as<int>();
  require(batch_size > 0, "--batch-size must be positive");
  const std::filesystem::path model_dir = vm["model"].as<std::string>(), out = vm["out"].as<std::string>();
  const backend::Compute compute = compute_choice(vm, vm.count("ids") ? "f32" : "auto");

  io::SafetensorsWriter writer;
  if (vm.count("ids")) {
    const io::SafetensorsFile file(vm["ids"].as<std::string>());
    const TokenBatch batch = io::read_token_batch(file);
    const InferenceModel loaded = load_for_inference(model_dir, compute);   // bf16: the projections packed as they are read
    const Model& model = *loaded.model;
    EncoderSettings settings = EncoderSettings::load(model_dir);
    const std::string attention = vm["attention"].as<std::string>().empty() ? settings.attention : vm["attention"].as<std::string>();
    const std::string pooling = vm["pooling"].as<std::string>().empty() ? settings.pooling : vm["pooling"].as<std::string>();
    const bool want_logits = vm["logits"].as<bool>();
    const Projections& projections = loaded.projections;
    Matrix embeddings(batch.batch, model.config().hidden_size);
    Matrix logits(want_logits ? Eigen::Index(batch.tokens()) : 0, model.config().vocab_size);
    Progress bar("encode", batch.batch, "sequences");
    for (int begin = 0; begin < batch.batch; begin += batch_size) {
      const int end = std::min(batch.batch, begin + batch_size);
      Matrix part_logits;
      embeddings.middleRows(begin, end - begin) =
          embed(model, rows_of(batch, begin, end), attention, pooling, want_logits ? &part_logits : nullptr, projections);
      if (want_logits) logits.middleRows(Eigen::Index(begin) * batch.seq_len, part_logits.rows()) = part_logits;
      bar.update(end);
    }
    bar.finish();
    writer.add("embeddings", {batch.batch, embeddings.cols()}, std::span<const float>(embeddings.data(), size_t(embeddings.size())));
    if (want_logits)
      writer.add("logits", {batch.batch, batch.seq_len, logits.cols()}, std::span<const float>(logits.data(), size_t(logits.size())));
  } else {
    if (vm["logits"].as<bool>()) fail("--logits needs --ids (texts have no fixed [B, T] shape)");
    const auto encoder = TextEncoder::load(model_dir, vm["attention"].as<std::string>(), vm["pooling"].as<std::string>(), compute);
    const Matrix embeddings = encoder.encode(read_texts(vm), batch_size, /*progress=*/true);
    writer.add("embeddings", {embeddings.rows(), embeddings.cols()}, std::span<const float>(embeddings.data(), size_t(embeddings.size())));
  }
  writer.save(out);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

const Command registered_encode{"encode", "embed token ids or texts with a model (safetensors out)", encode};

}  // namespace
}  // namespace bg2vec::cli
