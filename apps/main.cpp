// bg2vec: the command line. Dispatches to the subcommands registered in apps/*.cpp.
#include "cli.hpp"

#include <cstdio>
#include <exception>

namespace {

void print_overview() {
  std::printf("bg2vec: turn a decoder-only LLM into a text encoder (LLM2Vec), train, index and evaluate it.\n\n"
              "usage: bg2vec <command> [options]   (bg2vec <command> --help for each)\n\ncommands:\n");
  for (const auto& [name, info] : bg2vec::cli::registry())
    std::printf("  %-22s %s\n", name.c_str(), info.summary.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const bg2vec::cli::Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_overview();
    return args.empty() ? 2 : 0;
  }
  // Longest registered prefix wins: "eval retrieval" before "eval".
  const auto& commands = bg2vec::cli::registry();
  for (size_t words = std::min<size_t>(args.size(), 3); words >= 1; --words) {
    std::string name = args[0];
    for (size_t i = 1; i < words; ++i) name += " " + args[i];
    auto it = commands.find(name);
    if (it == commands.end()) continue;
    try {
      return it->second.run(bg2vec::cli::Args(args.begin() + long(words), args.end()));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bg2vec %s: error: %s\n", name.c_str(), e.what());
      return 1;
    }
  }
  std::string known;
  for (const auto& [name, info] : commands) if (name.rfind(args[0] + " ", 0) == 0) known += "\n  bg2vec " + name;
  std::fprintf(stderr, "bg2vec: error: unknown command '%s'%s%s\n", args[0].c_str(),
               known.empty() ? " (see bg2vec --help)" : "; did you mean one of:", known.c_str());
  return 2;
}
