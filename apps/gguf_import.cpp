// bg2vec gguf import: a GGUF model (llama.cpp's format, any supported quantization) as a Hugging Face
// folder: config.json in transformers' layout for the architecture, model.safetensors with HF names
// (float32 or bf16), and tokenizer.model rebuilt from the GGUF's vocabulary. The folder is written
// beside its target and renamed into place, so a failure leaves nothing behind.
#include "cli.hpp"

#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/text/gguf_vocabulary.hpp>

#include <chrono>
#include <unistd.h>

namespace bg2vec::cli {
namespace {

int gguf_import(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("gguf", po::value<std::string>()->required(), "the GGUF model file")
      ("out", po::value<std::string>()->required(), "output folder (must not exist, or be empty)")
      ("dtype", po::value<std::string>()->default_value("f32"), "f32 | bf16: how model.safetensors stores the weights");
  po::variables_map vm;
  if (!parse("gguf import", "Convert a GGUF model into a Hugging Face folder (config.json, model.safetensors, tokenizer.model).",
             options, args, vm))
    return 0;
  const std::filesystem::path file = vm["gguf"].as<std::string>(), out = vm["out"].as<std::string>();
  const std::string dtype_name = vm["dtype"].as<std::string>();
  if (dtype_name != "f32" && dtype_name != "bf16") fail("--dtype must be f32 or bf16, not '" + dtype_name + "'");
  if (std::filesystem::exists(out) && !(std::filesystem::is_directory(out) && std::filesystem::is_empty(out)))
    fail(out, "already exists and is not an empty folder (choose another --out)");
  if (!std::filesystem::is_regular_file(file)) fail(file, "not a file (--gguf takes a .gguf model file)");

  // Everything is read and checked before anything is written.
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const gguf::GgufFile gguf_file(file);
  const std::string tokenizer = text::tokenizer_from_gguf(gguf_file).serialized();
  const Model model = load_model(file);
  std::fprintf(stderr, "read %s: %s, %.1fM parameters, %zu pieces (%.1f s)\n", file.c_str(), model.config().architecture.c_str(),
               double(model.parameter_count()) / 1e6, size_t(model.config().vocab_size), seconds());

  write_folder_atomically(out, [&](const std::filesystem::path& temp) {
    save_model(model, temp, dtype_name == "bf16" ? DType::BF16 : DType::F32);
    write_file_atomically(temp / "tokenizer.model", tokenizer);
    if (gguf_file.has("bg2vec.attention")) EncoderSettings::from_gguf(gguf_file).save(temp);   // a `gguf export`ed encoder
  });
  std::printf("wrote %s (config.json, model.safetensors as %s, tokenizer.model) in %.1f s\n", out.c_str(), dtype_name.c_str(),
              seconds());
  return 0;
}

const Command registered_gguf_import{"gguf import", "convert a GGUF model into a Hugging Face folder (weights, config, tokenizer)", gguf_import};

}  // namespace
}  // namespace bg2vec::cli
