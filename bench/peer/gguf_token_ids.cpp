// The ids of our tokenizer rebuilt from a GGUF (text/gguf_vocabulary.hpp), for
// crosscheck_tokenizer_llamacpp.sh: one line per text file, "NAME [id, id, ...]" (no BOS), the format of
// `llama-tokenize --ids`; with --eos, the eos id and piece (the script's separator between texts); with
// --controls, the control pieces, one a line (texts that contain one are not batched by the script); with
// --truncate N, each text file is rewritten as the decoding of its first N ids, and "NAME COUNT" printed, COUNT
// the ids of the rewritten text (compare_llamacpp.sh's texts of a given token length).
//   gguf_token_ids FILE.gguf TEXT_FILE...
//   gguf_token_ids --eos|--controls FILE.gguf
//   gguf_token_ids --bos FILE.gguf              (the bos id, or -1)
//   gguf_token_ids --truncate N FILE.gguf TEXT_FILE...
// Built by the script itself (g++ against include/), not by CMake.
#include <bg2vec/text/gguf_vocabulary.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FILE.gguf TEXT_FILE...\n", argv[0]);
    return 2;
  }
  try {
    const std::string mode = argv[1];
    const bool eos = mode == "--eos", controls = mode == "--controls", bos = mode == "--bos";
    if (mode == "--truncate") {
      if (argc < 5) bg2vec::fail("usage: gguf_token_ids --truncate N FILE.gguf TEXT_FILE...");
      const size_t n = std::stoul(argv[2]);
      const bg2vec::text::Tokenizer tokenizer = bg2vec::text::tokenizer_from_gguf(bg2vec::gguf::GgufFile(argv[3]));
      for (int i = 4; i < argc; ++i) {
        std::ifstream in(argv[i], std::ios::binary);
        if (!in) bg2vec::fail(argv[i], "cannot open");
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto ids = tokenizer.encode(text, false, false);
        if (ids.size() > n) ids.resize(n);
        const std::string cut = tokenizer.decode(ids);
        std::ofstream(argv[i], std::ios::binary) << cut;
        std::printf("%s %zu\n", std::filesystem::path(argv[i]).filename().c_str(), tokenizer.encode(cut, false, false).size());
      }
      return 0;
    }
    const bg2vec::gguf::GgufFile file(argv[eos || controls || bos ? 2 : 1]);
    if (controls) {
      const auto model = bg2vec::text::sentencepiece_from_gguf(file);
      for (const auto& piece : model.pieces)
        if (piece.type == bg2vec::text::PieceType::control || piece.type == bg2vec::text::PieceType::unknown)
          std::printf("%s\n", piece.text.c_str());
      return 0;
    }
    const bg2vec::text::Tokenizer tokenizer = bg2vec::text::tokenizer_from_gguf(file);
    if (bos) {
      std::printf("%d\n", tokenizer.bos_id());
      return 0;
    }
    if (eos) {
      std::printf("%d %s\n", tokenizer.eos_id(), tokenizer.id_to_piece(tokenizer.eos_id()).c_str());
      return 0;
    }
    for (int i = 2; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      if (!in) bg2vec::fail(argv[i], "cannot open");
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto ids = tokenizer.encode(text, false, false);
      std::string line = std::filesystem::path(argv[i]).filename().string() + " [";
      for (size_t k = 0; k < ids.size(); ++k) line += (k ? ", " : "") + std::to_string(ids[k]);
      std::printf("%s]\n", line.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
