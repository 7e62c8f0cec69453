#pragma once
// The command registry of the `bg2vec` tool. Each subcommand lives in its own apps/<name>.cpp and
// registers itself with a static `Command` object, so adding one touches no other file. The files compile
// together in unity batches (BG2VEC_UNITY_BUILD), so that object and the file's helpers need names of their own
// (`registered_<file>`).
// Multi-word commands ("wiki extract") are matched on the longest prefix of the arguments.
#include <bg2vec/backend/compute.hpp>
#include <bg2vec/core/error.hpp>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace bg2vec::cli {

namespace po = boost::program_options;
using Args = std::vector<std::string>;

struct CommandInfo {
  std::string summary;
  std::function<int(const Args&)> run;
};

inline std::map<std::string, CommandInfo>& registry() {
  static std::map<std::string, CommandInfo> commands;
  return commands;
}

struct Command {
  Command(std::string name, std::string summary, std::function<int(const Args&)> run) {
    registry()[std::move(name)] = {std::move(summary), std::move(run)};
  }
};

// Parses `args` against `options`. Prints usage and returns false on --help; throws bg2vec::Error on
// unknown flags, stray arguments or a missing required option.
inline bool parse(const std::string& command, const std::string& description, po::options_description& options,
                  const Args& args, po::variables_map& vm,
                  const po::positional_options_description* positional = nullptr) {
  options.add_options()("help,h", "show this help");
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional) parser.positional(*positional);
    else parser.positional(po::positional_options_description{});   // no positionals accepted
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: bg2vec " << command << " [options]\n\n" << description << "\n\n" << options;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(std::string(e.what()) + " (see bg2vec " + command + " --help)");
  }
  return true;
}

// --compute f32 | bf16 | auto, shared by the commands that run a model (encode, step, train, eval, index, search).
inline void add_compute_option(po::options_description& options) {
  options.add_options()("compute", po::value<std::string>()->default_value(""),
                        "f32 | bf16 | auto: the type of the projections' matrix products (bf16: float32 accumulation, "
                        "needs AVX512-BF16). Default: $BG2VEC_COMPUTE if set, else auto = bf16 where the CPU has "
                        "AVX512-BF16, f32 elsewhere (f32 for step and encode --ids, whose results match transformers)");
}
// `fallback` is what neither --compute nor $BG2VEC_COMPUTE chose: "auto", except for the reference-point
// contracts (`step`, `encode --ids`), whose results are promised to match transformers: "f32" there.
inline backend::Compute compute_choice(const po::variables_map& vm, const std::string& fallback = "auto") {
  std::string name = vm["compute"].as<std::string>();
  if (name.empty())
    if (const char* env = std::getenv("BG2VEC_COMPUTE")) name = env;
  return backend::parse_compute(name.empty() ? fallback : name);
}

}  // namespace bg2vec::cli
