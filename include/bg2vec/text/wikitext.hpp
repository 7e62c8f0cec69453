#pragma once
// Wikitext -> plain text, one paragraph (or heading, or list item) per line.
//
// The cleaner runs a few linear passes, each undoing one kind of markup, in the order that keeps
// them independent: comments (which may hide anything), then tag-delimited elements (<ref>, <math>,
// <gallery>: dropped with their content; other HTML tags: dropped, content kept), then templates and
// tables (nested to any depth, also inside each other; <nowiki> content is escaped first so that it
// stays text), then internal links, then external links,
// and finally the line-level markup (headings, lists, bold/italic quotes, magic words, entities,
// whitespace). What a reader would not see as prose is removed: templates (except a few that only
// wrap text, like {{lang|en|...}}), tables, files and images, categories, interlanguage links.
// An unclosed template or table removes the rest of the page (MediaWiki would show it as raw
// markup, which is not prose either); an unclosed link or tag stays as written.
#include <bg2vec/text/html_entities.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace bg2vec::text {

namespace wikitext_detail {

inline bool starts_with_at(std::string_view s, size_t i, std::string_view prefix) {
  return s.compare(i, prefix.size(), prefix) == 0;
}

inline bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Lower case for ASCII and the Russian/Bulgarian Cyrillic capitals (U+0410..U+042F): enough to
// compare namespace and tag names, which are written in these alphabets.
inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') out[i] = char(c + 32);
    else if (c == 0xD0 && i + 1 < out.size()) {
      const unsigned char d = static_cast<unsigned char>(out[i + 1]);
      if (d >= 0x90 && d <= 0x9F) out[i + 1] = char(d + 0x20);                   // А..П -> а..п
      else if (d >= 0xA0 && d <= 0xAF) { out[i] = char(0xD1); out[i + 1] = char(d - 0x20); }  // Р..Я
      ++i;
    }
  }
  return out;
}

// Elements whose content is not prose: dropped whole.
inline bool is_dropped_element(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 18> names = {
      "ref", "references", "math", "chem", "ce", "gallery", "timeline", "imagemap", "score", "graph",
      "templatedata", "syntaxhighlight", "source", "hiero", "mapframe", "maplink", "inputbox", "categorytree"};
  for (auto n : names) if (n == lower_name) return true;
  return false;
}

// Namespaces of embedded media and of categories, in Bulgarian and English (lower case).
inline bool is_hidden_namespace(std::string_view lower_prefix) {
  static constexpr std::array<std::string_view, 9> names = {
      "файл", "картинка", "изображение", "категория", "медия", "file", "image", "category", "media"};
  for (auto n : names) if (n == lower_prefix) return true;
  return false;
}

// "en", "de", "zh-min-nan", "be-x-old", "simple": a link to the same article in another language.
inline bool is_language_code(std::string_view prefix) {
  if (prefix == "simple") return true;
  size_t letters = 0;
  while (letters < prefix.size() && prefix[letters] >= 'a' && prefix[letters] <= 'z') ++letters;
  if (letters < 2 || letters > 3) return false;
  for (size_t i = letters; i < prefix.size(); ++i) {
    const char c = prefix[i];
    if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
  }
  return true;
}

// Splits at the '|' that are not inside a nested template or link.
inline std::vector<std::string_view> split_top_level(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '{' || s[i] == '[') && i + 1 < s.size() && s[i + 1] == s[i]) { ++depth; ++i; }
    else if ((s[i] == '}' || s[i] == ']') && i + 1 < s.size() && s[i + 1] == s[i]) { depth -= depth > 0; ++i; }
    else if (s[i] == '|' && depth == 0) { parts.push_back(s.substr(start, i - start)); start = i + 1; }
  }
  parts.push_back(s.substr(start));
  return parts;
}

inline std::string strip_comments(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (true) {
    const size_t open = s.find("<!--", i);
    out.append(s.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i));
    if (open == std::string_view::npos) break;
    const size_t close = s.find("-->", open + 4);
    if (close == std::string_view::npos) break;                 // unterminated: hides the rest
    i = close + 3;
  }
  return out;
}

// A tag at s[i] == '<': its lower-case name, whether it closes, is self-closing, and where it ends.
struct Tag {
  std::string name;
  bool closing = false, self_closing = false;
  size_t end = 0;   // one past '>'
};

inline bool parse_tag(std::string_view s, size_t i, Tag& tag) {
  size_t j = i + 1;
  tag.closing = j < s.size() && s[j] == '/';
  if (tag.closing) ++j;
  const size_t name_start = j;
  while (j < s.size() && (is_ascii_alpha(s[j]) || (j > name_start && s[j] >= '0' && s[j] <= '9'))) ++j;
  if (j == name_start || j >= s.size()) return false;
  if (!(s[j] == '>' || s[j] == '/' || is_space(s[j]) || s[j] == '\n')) return false;
  const size_t gt = s.find_first_of("<>", j);
  if (gt == std::string_view::npos || s[gt] != '>') return false;
  tag.name = to_lower(s.substr(name_start, j - name_start));
  tag.self_closing = s[gt - 1] == '/';
  tag.end = gt + 1;
  return true;
}

// <nowiki> content is text, not markup: its markup characters become character references, which
// the later passes leave alone and the last one decodes ("<nowiki>{{</nowiki>" must not open a
// template that would swallow the rest of the page).
inline void append_literal(std::string& out, std::string_view content) {
  for (const char c : content) {
    switch (c) {
      case '{': out += "&#123;"; break;
      case '}': out += "&#125;"; break;
      case '[': out += "&#91;"; break;
      case ']': out += "&#93;"; break;
      case '|': out += "&#124;"; break;
      case '<': out += "&lt;"; break;
      default: out += c;
    }
  }
}

// Drops non-prose elements with their content, <nowiki> tags (keeping their content as text), and
// every other tag (keeping its content).
inline std::string strip_tags(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  Tag tag;
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    if (lt == std::string_view::npos) { out.append(s.substr(i)); break; }
    out.append(s.substr(i, lt - i));
    if (!parse_tag(s, lt, tag)) { out += '<'; i = lt + 1; continue; }
    i = tag.end;
    if (tag.name == "br") { out += ' '; continue; }
    const bool literal = tag.name == "nowiki";
    if (tag.closing || tag.self_closing || !(literal || is_dropped_element(tag.name))) continue;
    // Find the matching close tag, case-insensitively; without one only the opening tag goes.
    for (size_t k = s.find("</", i); k != std::string_view::npos; k = s.find("</", k + 2)) {
      Tag close;
      if (!parse_tag(s, k, close) || close.name != tag.name) continue;
      if (literal) append_literal(out, s.substr(i, k - i));
      i = close.end;
      break;
    }
  }
  return out;
}

// "1=text" -> "text": a positional parameter written with its number.
inline std::string_view without_parameter_name(std::string_view param) {
  size_t k = 0;
  while (k < param.size() && (is_space(param[k]) || (param[k] >= '0' && param[k] <= '9'))) ++k;
  return k > 0 && k < param.size() && param[k] == '=' ? param.substr(k + 1) : param;
}

// The text a template stands for when it only wraps prose; empty for every other template.
inline std::string_view template_text(std::string_view body) {
  const auto parts = split_top_level(body);
  const std::string name = to_lower(trim(parts[0]));
  if ((name == "lang" && parts.size() >= 3) || (name.starts_with("lang-") && parts.size() >= 2) ||
      ((name == "nowrap" || name == "nobr") && parts.size() == 2))
    return without_parameter_name(parts.back());
  return {};
}

// Whether only spaces or ':' indentation stand between s[i] and the start of its line.
inline bool at_line_start(std::string_view s, size_t i) {
  while (i > 0 && (is_space(s[i - 1]) || s[i - 1] == ':')) --i;
  return i == 0 || s[i - 1] == '\n';
}

// Removes templates {{...}}, template parameters {{{...}}} and tables {|...|}, nested in any way.
// Jumps from one brace (or, inside a table, pipe) to the next: most text holds none.
inline std::string strip_templates_and_tables(std::string_view s) {
  enum Kind : char { Template, Parameter, Table };
  std::string out;
  out.reserve(s.size());
  std::vector<std::pair<Kind, size_t>> open;   // kind and where its content starts
  size_t i = 0;
  while (i < s.size()) {
    const size_t next = s.find_first_of(open.empty() ? "{" : "{}|", i);
    if (open.empty()) out.append(s.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i));
    if (next == std::string_view::npos) break;
    i = next;
    if (starts_with_at(s, i, "{{{")) { open.push_back({Parameter, i + 3}); i += 3; continue; }
    if (starts_with_at(s, i, "{{")) { open.push_back({Template, i + 2}); i += 2; continue; }
    if (starts_with_at(s, i, "{|") && at_line_start(s, i)) { open.push_back({Table, i + 2}); i += 2; continue; }
    size_t width = 0;
    if (!open.empty()) {
      const Kind top = open.back().first;
      if (top == Parameter && starts_with_at(s, i, "}}}")) width = 3;
      else if (top == Template && starts_with_at(s, i, "}}")) width = 2;
      else if (top == Table && starts_with_at(s, i, "|}") && at_line_start(s, i)) width = 2;
    }
    if (width == 0) {                            // a lone brace or pipe: text outside, nothing inside
      if (open.empty()) out += s[i];
      ++i;
      continue;
    }
    const auto [kind, content_start] = open.back();
    open.pop_back();
    if (open.empty() && kind == Template) {
      const std::string_view inner = template_text(s.substr(content_start, i - content_start));
      if (!inner.empty()) out += strip_templates_and_tables(inner);
    }
    i += width;
  }
  return out;
}

// [[target]] -> target, [[target|label]] -> label; files, categories and interlanguage links vanish.
inline std::string strip_internal_links(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t open = s.find("[[", i);
    if (open == std::string_view::npos) { out.append(s.substr(i)); break; }
    out.append(s.substr(i, open - i));
    int depth = 0;
    size_t close = std::string_view::npos;
    for (size_t k = open; k + 1 < s.size(); ++k) {
      if (s[k] == '[' && s[k + 1] == '[') { ++depth; ++k; }
      else if (s[k] == ']' && s[k + 1] == ']' && --depth == 0) { close = k; break; }
      else if (s[k] == ']' && s[k + 1] == ']') ++k;
    }
    if (close == std::string_view::npos) { out += "[["; i = open + 2; continue; }
    i = close + 2;
    const std::string_view inner = s.substr(open + 2, close - open - 2);
    const auto parts = split_top_level(inner);
    std::string_view target = trim(parts[0]);
    const bool forced_link = !target.empty() && target.front() == ':';   // [[:Категория:X]] shows a link
    if (forced_link) target.remove_prefix(1);
    if (const size_t colon = target.find(':'); !forced_link && colon != std::string_view::npos) {
      const std::string_view prefix = trim(target.substr(0, colon));
      if (is_hidden_namespace(to_lower(prefix)) || is_language_code(prefix)) continue;
    }
    const std::string_view label = parts.size() > 1 ? trim(parts.back()) : std::string_view{};
    out += strip_internal_links(label.empty() ? target : label);
  }
  return out;
}

inline bool is_url_start(std::string_view s, size_t i) {
  for (std::string_view scheme : {"http://", "https://", "ftp://", "ftps://", "//", "mailto:", "news:"})
    if (starts_with_at(s, i, scheme)) return true;
  return false;
}

// [url label] -> label, [url] -> nothing; a bare url stays.
inline std::string strip_external_links(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t open = s.find('[', i);
    if (open == std::string_view::npos) { out.append(s.substr(i)); break; }
    out.append(s.substr(i, open - i));
    const size_t close = s.find_first_of("]\n", open);
    if (!is_url_start(s, open + 1) || close == std::string_view::npos || s[close] != ']') {
      out += '[';
      i = open + 1;
      continue;
    }
    const std::string_view inner = s.substr(open + 1, close - open - 1);
    if (const size_t space = inner.find(' '); space != std::string_view::npos) out.append(trim(inner.substr(space)));
    i = close + 1;
  }
  return out;
}

// `line` without bold/italic quotes and magic words, with whitespace runs (incl. no-break spaces)
// collapsed to one space, and empty parentheses left by removed templates dropped.
inline std::string clean_line(std::string_view line) {
  const std::string decoded = decode_html_entities(line);
  std::string text;
  text.reserve(decoded.size());
  const std::string_view d = decoded;
  for (size_t i = 0; i < d.size(); ++i) {
    const char c = d[i];
    if (c == '\'' && i + 1 < d.size() && d[i + 1] == '\'') {                 // '' '': formatting
      while (i + 1 < d.size() && d[i + 1] == '\'') ++i;
      continue;
    }
    if (c == '_' && starts_with_at(d, i, "__")) {                           // __TOC__, __NOTOC__, ...
      size_t k = i + 2;
      while (k < d.size() && d[k] >= 'A' && d[k] <= 'Z') ++k;
      if (k > i + 2 && starts_with_at(d, k, "__")) { i = k + 1; continue; }
    }
    const bool nbsp = c == '\xC2' && i + 1 < d.size() && d[i + 1] == '\xA0';
    if (is_space(c) || nbsp) {
      if (nbsp) ++i;
      if (!text.empty() && text.back() != ' ') text += ' ';
      continue;
    }
    if (c == ')' && !text.empty() && (text.back() == '(' || (text.back() == ' ' && text.size() >= 2 &&
                                                             text[text.size() - 2] == '('))) {
      text.erase(text.rfind('('));                                         // "()" or "( )"
      if (!text.empty() && text.back() == ' ') text.pop_back();
      continue;
    }
    text += c;
  }
  return std::string(trim(text));
}

}  // namespace wikitext_detail

// Plain text of an article's wikitext: one line per paragraph, heading and list item. As in
// MediaWiki, consecutive prose lines form one paragraph; a blank line (or one left empty by removed
// markup) ends it.
inline std::string clean_wikitext(std::string_view wikitext) {
  using namespace wikitext_detail;
  const std::string text =
      strip_external_links(strip_internal_links(strip_templates_and_tables(strip_tags(strip_comments(wikitext)))));
  std::string out;
  out.reserve(text.size());
  bool in_paragraph = false;            // the last line written is prose that may continue
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    bool prose = true;
    if (line.starts_with("----")) line = {};                                 // horizontal rule
    if (line.size() >= 2 && line.front() == '=' && line.back() == '=') {     // == Heading ==
      while (!line.empty() && line.front() == '=') line.remove_prefix(1);
      while (!line.empty() && line.back() == '=') line.remove_suffix(1);
      prose = false;
    }
    while (!line.empty() && (line.front() == '*' || line.front() == '#' || line.front() == ':' ||
                             line.front() == ';')) {                         // list and indent markers
      line.remove_prefix(1);
      prose = false;
    }
    const std::string clean = clean_line(line);
    if (clean.empty()) { in_paragraph = false; continue; }
    if (!out.empty()) out += (in_paragraph && prose) ? ' ' : '\n';
    out += clean;
    in_paragraph = prose;
  }
  return out;
}

}  // namespace bg2vec::text
