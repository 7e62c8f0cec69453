// Embeds a few Bulgarian sentences with a model folder and prints their cosine similarities.
//   embed_sentences MODEL_DIR [causal|bidirectional] [mean|weighted-mean|last|bos]
#include <bg2vec/bg2vec.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [attention] [pooling]\n", argv[0]);
    return 2;
  }
  const std::vector<std::string> sentences = {
      "София е столицата на България.",
      "Столицата на България е София.",
      "Пловдив е вторият по големина град в страната.",
      "Котките спят по цял ден.",
  };
  try {
    const auto encoder = bg2vec::TextEncoder::load(argv[1], argc > 2 ? argv[2] : "", argc > 3 ? argv[3] : "");
    bg2vec::Matrix e = encoder.encode(sentences);
    e.rowwise().normalize();
    const bg2vec::Matrix cosine = e * e.transpose();
    std::printf("%s\n", encoder.description().c_str());
    for (size_t i = 0; i < sentences.size(); ++i) {
      for (size_t j = 0; j < sentences.size(); ++j) std::printf("%6.3f ", cosine(long(i), long(j)));
      std::printf(" %s\n", sentences[i].c_str());
    }
  } catch (const bg2vec::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
