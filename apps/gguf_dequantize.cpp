// bg2vec gguf dequantize: every tensor of a GGUF file as float32 in a safetensors file, under its GGUF name,
// in row-major shape (GGUF lists dimensions fastest first, so they come out reversed).
#include "cli.hpp"

#include <bg2vec/core/progress.hpp>
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/io/safetensors.hpp>

namespace bg2vec::cli {
namespace {

int gguf_dequantize(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("gguf", po::value<std::string>()->required(), "the GGUF file")
      ("out", po::value<std::string>()->required(), "the safetensors file to write (float32)");
  po::variables_map vm;
  if (!parse("gguf dequantize", "Write every tensor of a GGUF file, dequantized to float32, to a safetensors file.",
             options, args, vm))
    return 0;
  const gguf::GgufFile file(vm["gguf"].as<std::string>());
  // Refuse a type we cannot read before any work, so that a failure costs nothing and writes nothing.
  double total = 0;
  for (const auto& t : file.tensors()) {
    file.check_supported(t);
    total += double(t.elements());
  }
  Progress progress("dequantized", total, "elements");
  io::SafetensorsWriter writer;
  double done = 0;
  for (const auto& t : file.tensors()) {
    const std::vector<float> values = file.read_float32(t);
    writer.add(t.name, t.shape(), values);
    progress.update(done += double(t.elements()));
  }
  writer.save(vm["out"].as<std::string>());   // temp file + rename: nothing is left behind on failure
  progress.finish(std::to_string(file.tensors().size()) + " tensors -> " + vm["out"].as<std::string>());
  return 0;
}

const Command registered_gguf_dequantize{"gguf dequantize", "every tensor of a GGUF file as float32 safetensors", gguf_dequantize};

}  // namespace
}  // namespace bg2vec::cli
