#pragma once
// HTML character references in wikitext (`&nbsp;`, `&ndash;`, `&#8212;`, `&#x2014;`) decoded to UTF-8.
// The named table covers what Wikipedia articles use; an unknown name is left as written.
#include <bg2vec/core/utf8.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bg2vec::text {

inline const std::unordered_map<std::string_view, uint32_t>& named_entities() {
  static const std::unordered_map<std::string_view, uint32_t> table = {
      {"nbsp", 0xA0},    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
      {"apos", '\''},    {"ndash", 0x2013},  {"mdash", 0x2014},  {"minus", 0x2212},  {"hellip", 0x2026},
      {"laquo", 0xAB},   {"raquo", 0xBB},    {"bdquo", 0x201E},  {"ldquo", 0x201C},  {"rdquo", 0x201D},
      {"lsquo", 0x2018}, {"rsquo", 0x2019},  {"sbquo", 0x201A},  {"times", 0xD7},    {"divide", 0xF7},
      {"deg", 0xB0},     {"middot", 0xB7},   {"bull", 0x2022},   {"copy", 0xA9},     {"reg", 0xAE},
      {"trade", 0x2122}, {"euro", 0x20AC},   {"pound", 0xA3},    {"sect", 0xA7},     {"para", 0xB6},
      {"frac12", 0xBD},  {"frac14", 0xBC},   {"frac34", 0xBE},   {"plusmn", 0xB1},   {"sup1", 0xB9},
      {"sup2", 0xB2},    {"sup3", 0xB3},     {"micro", 0xB5},    {"prime", 0x2032},  {"Prime", 0x2033},
      {"thinsp", 0x2009}, {"ensp", 0x2002},  {"emsp", 0x2003},   {"shy", 0xAD},      {"zwj", 0x200D},
      {"zwnj", 0x200C},  {"larr", 0x2190},   {"rarr", 0x2192},   {"harr", 0x2194},   {"uarr", 0x2191},
      {"darr", 0x2193},  {"le", 0x2264},     {"ge", 0x2265},     {"ne", 0x2260},     {"asymp", 0x2248},
      {"infin", 0x221E}, {"cent", 0xA2},     {"yen", 0xA5},      {"iexcl", 0xA1},    {"iquest", 0xBF},
      {"alpha", 0x3B1},  {"beta", 0x3B2},    {"gamma", 0x3B3},   {"delta", 0x3B4},   {"epsilon", 0x3B5},
      {"lambda", 0x3BB}, {"mu", 0x3BC},      {"pi", 0x3C0},      {"sigma", 0x3C3},   {"omega", 0x3C9},
      {"Delta", 0x394},  {"Sigma", 0x3A3},   {"Omega", 0x3A9},   {"auml", 0xE4},     {"ouml", 0xF6},
      {"uuml", 0xFC},    {"eacute", 0xE9},   {"egrave", 0xE8},   {"aacute", 0xE1},   {"szlig", 0xDF}};
  return table;
}

// Decodes the character references of `text`; a malformed or unknown one stays as written.
inline std::string decode_html_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) break;
    out.append(text, i, amp - i);
    i = amp + 1;
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10 || semi == i) { out += '&'; continue; }
    const std::string_view name = text.substr(i, semi - i);
    uint32_t cp = 0;
    bool ok = false;
    if (name[0] == '#') {
      const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
      const std::string_view digits = name.substr(hex ? 2 : 1);
      ok = !digits.empty();
      for (char c : digits) {
        const int d = (c >= '0' && c <= '9') ? c - '0'
                      : (hex && c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (hex && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0 || cp > 0x10FFFF) { ok = false; break; }
        cp = cp * (hex ? 16 : 10) + uint32_t(d);
      }
    } else if (auto it = named_entities().find(name); it != named_entities().end()) {
      cp = it->second;
      ok = true;
    }
    if (!ok) { out += '&'; continue; }
    if (cp != 0xAD) append_utf8(out, cp);          // a soft hyphen is invisible: drop it
    i = semi + 1;
  }
  out.append(text, i);
  return out;
}

}  // namespace bg2vec::text
