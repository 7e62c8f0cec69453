// bg2vec gguf export: a model folder (or GGUF file) as a GGUF file that llama.cpp loads and embeds with the
// encoder's own settings: llama.cpp's tensor names and conventions, the tokenizer, causal attention off for a
// bidirectional encoder, the pooling type (see include/bg2vec/gguf/model_export.hpp). The weights are the
// folder's (a folder written by `train` already holds its adapter merged) plus, with --adapter, a PEFT LoRA
// adapter merged in. Written atomically.
#include "cli.hpp"

#include <bg2vec/gguf/model_export.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/text/gguf_vocabulary.hpp>

#include <chrono>
#include <fstream>
#include <iterator>

namespace bg2vec::cli {
namespace {

gguf::GgmlType export_type(const std::string& name) {
  if (name == "f32") return gguf::GgmlType::F32;
  if (name == "f16") return gguf::GgmlType::F16;
  if (name == "bf16") return gguf::GgmlType::BF16;
  if (name == "q8_0") return gguf::GgmlType::Q8_0;
  fail("--type must be f32, f16, bf16 or q8_0, not '" + name + "'");
}

int gguf_export(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "the encoder: a Hugging Face folder with tokenizer.model (e.g. out/demo/encoder), or a GGUF file")
      ("out", po::value<std::string>()->required(), "the GGUF file to write")
      ("type", po::value<std::string>()->default_value("f32"), "f32 | f16 | bf16 | q8_0: how the matrices are stored (norms stay f32)")
      ("adapter", po::value<std::string>(), "a PEFT LoRA adapter folder to merge into the weights first (not DIR/adapter of a folder "
                                             "written by train: that one is merged already)")
      ("attention", po::value<std::string>()->default_value(""), "causal | bidirectional (default: the folder's bg2vec.json)")
      ("pooling", po::value<std::string>()->default_value(""), "mean | last | bos (default: bg2vec.json; llama.cpp has no weighted mean)")
      ("include-bos", po::bool_switch(), "pool BOS too, for an encoder that leaves it out (bg2vec.json skip_bos, as the demo's): "
                                         "llama.cpp's pooling averages every token")
      ("token-embeddings", po::bool_switch(), "pooling_type none: llama.cpp returns every token's vector and you pool them "
                                              "(e.g. the mean of all but the first, BOS, for a skip_bos encoder): exactly the encoder")
      ("name", po::value<std::string>()->default_value(""), "general.name (default: the folder's name)");
  po::variables_map vm;
  if (!parse("gguf export", "Write an encoder as a GGUF file that llama.cpp embeds with (its attention and pooling in the metadata).",
             options, args, vm))
    return 0;
  const std::filesystem::path model_path = vm["model"].as<std::string>(), out = vm["out"].as<std::string>();
  const gguf::GgmlType type = export_type(vm["type"].as<std::string>());
  if (!std::filesystem::exists(model_path)) fail(model_path, "no such model (give a Hugging Face folder or a GGUF file)");
  if (std::filesystem::is_directory(out)) fail(out, "is a folder (--out takes the .gguf file to write)");
  const bool from_gguf = is_gguf(model_path);

  // The encoder's settings: bg2vec.json (a GGUF file: its bg2vec.* keys), then the flags.
  EncoderSettings settings = EncoderSettings::load(model_path);
  if (!vm["attention"].as<std::string>().empty()) settings.attention = vm["attention"].as<std::string>();
  if (!vm["pooling"].as<std::string>().empty()) settings.pooling = vm["pooling"].as<std::string>();
  if (settings.attention != "causal" && settings.attention != "bidirectional")
    fail("--attention must be causal or bidirectional, not '" + settings.attention + "'");
  const bool tokens_out = vm["token-embeddings"].as<bool>();
  if (tokens_out && vm["include-bos"].as<bool>()) fail("give --include-bos or --token-embeddings, not both");
  if (vm["include-bos"].as<bool>()) settings.skip_bos = false;
  auto pooling = gguf::pooling_type_of(settings.pooling);
  if (settings.pooling == "none" || (!pooling && settings.pooling != "weighted-mean"))
    fail("--pooling must be mean, weighted-mean, last or bos, not '" + settings.pooling + "'");
  if (!tokens_out && !pooling)
    fail("pooling '" + settings.pooling + "' has no llama.cpp equivalent (llama.cpp pools by mean, cls (the first token) or last): "
         "give --pooling mean|bos|last, or --token-embeddings to pool the token vectors yourself");
  if (!tokens_out && settings.skip_bos && (settings.pooling == "mean" || settings.pooling == "weighted-mean"))
    fail(model_path, "this encoder leaves BOS out of its " + settings.pooling + " pooling (bg2vec.json skip_bos), which llama.cpp's "
         "pooling cannot: give --include-bos (llama.cpp pools every token, BOS too: close to the encoder, not the same), or "
         "--token-embeddings (llama.cpp returns each token's vector; pool all but the first yourself: exactly the encoder)");
  if (tokens_out) pooling = gguf::PoolingType::None;

  // Everything is read and checked before anything is written.
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  text::ParsedSentencePiece tokenizer;
  std::string tokenizer_name;
  if (from_gguf) {
    const gguf::GgufFile file(model_path);
    tokenizer.model = text::sentencepiece_from_gguf(file);
    tokenizer.normalizer_name = "identity";
    tokenizer_name = model_path.string();
  } else {
    const auto file = model_path / "tokenizer.model";
    if (!std::filesystem::exists(file))
      fail(model_path, "has no tokenizer.model (llama.cpp needs the vocabulary; copy the tokenizer.model of the model it was trained from)");
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    tokenizer = text::parse_sentencepiece(bytes, file.string());
    tokenizer_name = file.string();
  }
  Model model = load_model(model_path);
  if (vm.count("adapter")) {
    const std::filesystem::path adapter_dir = vm["adapter"].as<std::string>();
    const LoraAdapter adapter = peft::load_adapter(adapter_dir, model.config());
    merge_lora(model.weights(), adapter);
    std::fprintf(stderr, "merged the LoRA adapter %s\n", adapter_dir.c_str());
  } else if (!from_gguf && std::filesystem::exists(model_path / "adapter" / "adapter_config.json")) {
    std::fprintf(stderr, "note: %s holds an adapter, which train merged into the folder's weights already; it is not merged again\n",
                 (model_path / "adapter").c_str());
  }

  gguf::ExportSettings s;
  s.type = type;
  s.bidirectional = settings.attention == "bidirectional";
  s.pooling = *pooling;
  s.attention_name = settings.attention;
  s.pooling_name = settings.pooling;
  s.max_length = settings.max_length;
  s.skip_bos = settings.skip_bos;
  s.name = vm["name"].as<std::string>();
  if (s.name.empty()) s.name = std::filesystem::absolute(model_path).lexically_normal().filename().string();
  if (s.name.empty()) s.name = "bg2vec encoder";

  gguf::GgufWriter writer;
  std::vector<std::string> warnings = gguf::add_model(writer, model.config(), model, s);
  for (auto& w : text::add_gguf_vocabulary(writer, tokenizer, model.config().vocab_size, tokenizer_name)) warnings.push_back(std::move(w));
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  writer.write(out);
  std::printf("wrote %s: %s (%s attention, %s pooling), %zu tensors as %s, %zu pieces, in %.1f s\n", out.c_str(),
              gguf::export_architecture(model.config(), s.bidirectional).c_str(), settings.attention.c_str(),
              tokens_out ? "token vectors out, no" : (settings.pooling + (settings.skip_bos ? " (BOS left out)" : "")).c_str(),
              writer.tensor_count(), vm["type"].as<std::string>().c_str(), size_t(model.config().vocab_size), seconds());
  return 0;
}

const Command registered_gguf_export{"gguf export", "write an encoder as a GGUF file for llama.cpp (bidirectional attention and pooling in its metadata)",
                         gguf_export};

}  // namespace
}  // namespace bg2vec::cli
