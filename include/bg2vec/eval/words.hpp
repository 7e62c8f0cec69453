#pragma once
// Lower-cased words of UTF-8 text: the lexical analysis of the BM25 baseline.
// A word is a maximal run of letters, digits and combining marks; everything else (ASCII
// punctuation and spaces, Latin-1 symbols such as « » and NBSP, the General Punctuation block with
// „ “ – —, other symbol blocks, invalid UTF-8) separates words. Lower-casing covers Latin (ASCII,
// Latin-1, Latin Extended-A), Greek and Cyrillic (incl. Ѝ, Ѐ, Ѣ, Ѫ), so "София" and "СОФИЯ" are one word.
#include <bg2vec/core/utf8.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bg2vec::eval {


inline char32_t to_lower(char32_t c) {
  const auto in = [c](char32_t lo, char32_t hi) { return c >= lo && c <= hi; };
  if (in('A', 'Z')) return c + 32;
  if (in(0xC0, 0xDE) && c != 0xD7) return c + 32;                         // Latin-1
  if ((in(0x100, 0x12F) || in(0x132, 0x137) || in(0x14A, 0x177)) && c % 2 == 0) return c + 1;   // Latin Ext-A
  if ((in(0x139, 0x148) || in(0x179, 0x17E)) && c % 2 == 1) return c + 1;
  if (c == 0x178) return 0xFF;
  if (in(0x391, 0x3A9) && c != 0x3A2) return c + 32;                      // Greek
  if (c == 0x386) return 0x3AC;
  if (in(0x388, 0x38A)) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (in(0x38E, 0x38F)) return c + 63;
  if (in(0x400, 0x40F)) return c + 80;                                    // Cyrillic: Ѐ..Џ
  if (in(0x410, 0x42F)) return c + 32;                                    // А..Я
  if ((in(0x460, 0x481) || in(0x48A, 0x4BF) || in(0x4D0, 0x52F)) && c % 2 == 0) return c + 1;
  if (c == 0x4C0) return 0x4CF;
  if (in(0x4C1, 0x4CE) && c % 2 == 1) return c + 1;
  return c;
}

inline bool is_word_char(char32_t c) {
  const auto in = [c](char32_t lo, char32_t hi) { return c >= lo && c <= hi; };
  if (c < 0x80) return in('0', '9') || in('A', 'Z') || in('a', 'z');
  return !(in(0x80, 0xBF) || c == 0xD7 || c == 0xF7 || in(0x2000, 0x2BFF) || in(0x3000, 0x303F) ||
           in(0xFE30, 0xFE4F) || in(0xFF00, 0xFF0F) || c == 0xFEFF || c == 0xFFFD);
}

inline std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) append_utf8(out, to_lower(next_code_point(text, pos)));
  return out;
}

inline std::vector<std::string> lowercase_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t c = next_code_point(text, pos);
    if (is_word_char(c)) {
      append_utf8(word, to_lower(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

}  // namespace bg2vec::eval
