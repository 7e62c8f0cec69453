#pragma once
// A sentence splitter for Bulgarian prose, and the SimCSE training units made with it.
//
// A sentence ends at '.', '!', '?' or '…' (with any closing quotes and brackets after it) that is
// followed by a space and then by what can start a sentence: a capital letter, a digit, an opening
// quote or bracket, or a dash. A full stop does not end a sentence after
//   - a known abbreviation: г. (година), в. (вестник), т.е., др., гр., ул., проф., напр., ...
//     (so "през 1878 г. Княжеството ..." stays one unit: a missed boundary only makes a longer unit,
//     a wrong one would cut a sentence in half),
//   - an initial: one capital letter, as in "Й. Йовков", or "Дж." as in "Дж. Буш",
//   - a one- or two-digit number, as in list numbering "1. Иван".
// A number like "3.5" or a date like "31.III.1916" has no space after its dots and is never split.
// Paragraph breaks (newlines) always end a sentence.
#include <bg2vec/core/utf8.hpp>

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace bg2vec::text {

namespace sentence_detail {

inline const std::unordered_set<std::string_view>& abbreviations() {
  static const std::unordered_set<std::string_view> set = {
      "г", "гр", "в", "т.е", "т", "др", "ул", "бул", "пл", "проф", "доц", "акад", "инж", "арх", "д-р", "ген",
      "полк", "кап", "подп", "св", "с", "кв", "обл", "общ", "р", "им", "т.нар", "нар", "напр", "вж", "ср", "стр",
      "бр", "чл", "ал", "л", "тел", "гл", "млн", "млрд", "хил", "км", "см", "мм", "кг", "вкл", "прибл", "ок",
      "изд", "ред", "пер", "сп", "дж", "ст", "лв", "щ", "пр", "сл", "хр", "пр.н", "сл.н", "н", "н.е", "пр.н.е",
      "сл.н.е", "пр.хр", "сл.хр", "мр", "mr", "dr", "prof", "vs", "etc", "e.g", "i.e", "jr", "sr", "st", "no"};
  return set;
}

// The code point at s[i] and its length in bytes (malformed input: U+FFFD, one byte).
inline char32_t decode_at(std::string_view s, size_t i, size_t& length) {
  size_t end = i;
  const char32_t c = next_code_point(s, end);
  length = end - i;
  return c;
}

inline bool is_upper(char32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 0x400 && c <= 0x42F) || (c >= 0x391 && c <= 0x3A9);   // Latin, Cyrillic, Greek
}
inline bool is_lower_or_upper_letter(char32_t c) {
  return is_upper(c) || (c >= 'a' && c <= 'z') || (c >= 0x430 && c <= 0x45F) || (c >= 0x3B1 && c <= 0x3C9);
}

inline bool can_start_sentence(char32_t c) {
  return is_upper(c) || (c >= '0' && c <= '9') ||
         c == U'„' || c == U'“' || c == U'"' || c == U'«' || c == U'(' || c == U'[' || c == U'–' || c == U'—' ||
         c == U'\'';
}

inline bool is_terminator(char32_t c) { return c == '.' || c == '!' || c == '?' || c == U'…'; }
inline bool is_closing(char32_t c) { return c == U'“' || c == U'”' || c == '"' || c == U'»' || c == ')' || c == ']' || c == '\''; }

inline std::string lower_ascii_cyrillic(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char32_t c = next_code_point(s, i);
    if (c >= 'A' && c <= 'Z') c += 32;
    else if (c >= 0x410 && c <= 0x42F) c += 0x20;
    append_utf8(out, c);
  }
  return out;
}

// Whether the full stop at s[dot] ends a sentence, judging by the word it ends.
inline bool full_stop_ends_sentence(std::string_view s, size_t dot) {
  size_t start = dot;
  while (start > 0 && s[start - 1] != ' ' && s[start - 1] != '\n') --start;
  std::string_view word = s.substr(start, dot - start);
  while (!word.empty() && (word.front() == '(' || word.front() == '[' || word.front() == '"')) word.remove_prefix(1);
  if (word.starts_with("„") || word.starts_with("«")) word.remove_prefix(2);
  if (word.empty()) return true;
  if (word.size() <= 2 && word.find_first_not_of("0123456789") == std::string_view::npos) return false;  // "1."
  size_t first_length;
  const char32_t first = decode_at(word, 0, first_length);
  if (first_length == word.size() && is_upper(first)) return false;                                     // "Й."
  return !abbreviations().count(lower_ascii_cyrillic(word));
}

}  // namespace sentence_detail

// The sentences of `text`, trimmed, as views into it.
inline std::vector<std::string_view> split_sentences(std::string_view text) {
  using namespace sentence_detail;
  std::vector<std::string_view> sentences;
  auto emit = [&](size_t begin, size_t end) {
    while (begin < end && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
    while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) --end;
    if (end > begin) sentences.push_back(text.substr(begin, end - begin));
  };
  size_t begin = 0;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\n') { emit(begin, i); begin = ++i; continue; }
    size_t n;
    const char32_t c = decode_at(text, i, n);
    if (!is_terminator(c)) { i += n; continue; }
    const size_t mark = i;
    size_t end = i + n;                                   // past the terminators and closing marks
    for (size_t m; end < text.size(); end += m) {
      const char32_t d = decode_at(text, end, m);
      if (!is_terminator(d) && !is_closing(d)) break;
    }
    i = end;
    if (end >= text.size() || text[end] != ' ') continue;
    size_t next = end;
    while (next < text.size() && text[next] == ' ') ++next;
    if (next >= text.size()) continue;
    size_t m;
    if (!can_start_sentence(decode_at(text, next, m))) continue;
    if (c == '.' && end == mark + 1 && !full_stop_ends_sentence(text, mark)) continue;
    emit(begin, end);
    begin = next;
    i = next;
  }
  emit(begin, text.size());
  return sentences;
}

// The non-empty lines of `text`: its paragraphs, as articles.jsonl writes them.
inline std::vector<std::string_view> paragraphs(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) out.push_back(line);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

// Length in code points (what "characters" means for the min/max limits).
inline size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

struct SentenceOptions {
  size_t min_chars = 30;     // shorter units (headings, list fragments) are dropped
  size_t max_chars = 500;    // longer ones too: SimCSE reads at most 128 tokens
};

// The SimCSE units of one article: its sentences within the length limits.
inline std::vector<std::string_view> simcse_units(std::string_view text, const SentenceOptions& options = {}) {
  std::vector<std::string_view> units;
  for (std::string_view s : split_sentences(text)) {
    const size_t length = utf8_length(s);
    if (length >= options.min_chars && length <= options.max_chars) units.push_back(s);
  }
  return units;
}

}  // namespace bg2vec::text
