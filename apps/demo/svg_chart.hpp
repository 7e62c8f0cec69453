#pragma once
// Small SVG charts for the demo report: line charts (training losses) and bar charts (nDCG@10 per
// stage, with optional interval whiskers). Self-contained SVG that any browser or Markdown viewer shows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace bg2vec::demo {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct Bar {
  std::string label;
  double value = 0;
  double low = NAN, high = NAN;        // optional interval (drawn as a whisker)
};

namespace svg_detail {

inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

inline const char* color(size_t i) {
  static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return palette[i % 8];
}

inline std::string header(int width, int height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" +
         "<text x=\"" + std::to_string(width / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" + escape(title) + "</text>\n";
}

}  // namespace svg_detail

// One panel, shared axes; x and y ranges from the data.
inline std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                              const std::vector<Series>& series, int width = 640, int height = 360) {
  using namespace svg_detail;
  const double left = 60, right = width - 150, top = 30, bottom = height - 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]); x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]); y1 = std::max(y1, s.y[i]);
    }
  if (!(x1 > x0)) { x0 = 0; x1 = std::max(1.0, x1); }
  if (!(y1 > y0)) { y0 = 0; y1 = std::max(1.0, y1); }
  y0 = std::min(0.0, y0);
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y0) / (y1 - y0) * (bottom - top); };
  std::string out = header(width, height, title);
  out += "<line x1=\"" + num(left) + "\" y1=\"" + num(bottom) + "\" x2=\"" + num(right) + "\" y2=\"" + num(bottom) + "\" stroke=\"black\"/>\n";
  out += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(bottom) + "\" stroke=\"black\"/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double yv = y0 + (y1 - y0) * t / 4, xv = x0 + (x1 - x0) * t / 4;
    out += "<text x=\"" + num(left - 5) + "\" y=\"" + num(py(yv) + 4) + "\" text-anchor=\"end\">" + num(yv) + "</text>\n";
    out += "<text x=\"" + num(px(xv)) + "\" y=\"" + num(bottom + 15) + "\" text-anchor=\"middle\">" + num(xv) + "</text>\n";
  }
  out += "<text x=\"" + num((left + right) / 2) + "\" y=\"" + num(height - 8.0) + "\" text-anchor=\"middle\">" + escape(x_label) + "</text>\n";
  out += "<text x=\"14\" y=\"" + num((top + bottom) / 2) + "\" transform=\"rotate(-90 14 " + num((top + bottom) / 2) +
         ")\" text-anchor=\"middle\">" + escape(y_label) + "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    std::string points;
    for (size_t i = 0; i < series[k].x.size(); ++i) points += num(px(series[k].x[i])) + "," + num(py(series[k].y[i])) + " ";
    out += "<polyline fill=\"none\" stroke=\"" + std::string(color(k)) + "\" stroke-width=\"1.5\" points=\"" + points + "\"/>\n";
    const double ly = top + 10 + 18.0 * double(k);
    out += "<rect x=\"" + num(right + 10) + "\" y=\"" + num(ly - 9) + "\" width=\"12\" height=\"12\" fill=\"" + color(k) + "\"/>\n";
    out += "<text x=\"" + num(right + 28) + "\" y=\"" + num(ly + 1) + "\">" + escape(series[k].name) + "</text>\n";
  }
  return out + "</svg>\n";
}

// Horizontal bars on a [0, 1] scale (retrieval metrics), labelled with their values.
inline std::string bar_chart(const std::string& title, const std::vector<Bar>& bars, int width = 640) {
  using namespace svg_detail;
  const double left = 170, right = width - 60, top = 30, row = 24;
  const int height = int(top + row * double(bars.size()) + 30);
  auto px = [&](double v) { return left + std::clamp(v, 0.0, 1.0) * (right - left); };
  std::string out = header(width, height, title);
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = top + row * double(i);
    out += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y + 15) + "\" text-anchor=\"end\">" + escape(bars[i].label) + "</text>\n";
    out += "<rect x=\"" + num(left) + "\" y=\"" + num(y + 3) + "\" width=\"" + num(px(bars[i].value) - left) +
           "\" height=\"16\" fill=\"" + color(i) + "\"/>\n";
    if (!std::isnan(bars[i].low))
      out += "<line x1=\"" + num(px(bars[i].low)) + "\" y1=\"" + num(y + 11) + "\" x2=\"" + num(px(bars[i].high)) + "\" y2=\"" +
             num(y + 11) + "\" stroke=\"black\" stroke-width=\"2\"/>\n";
    out += "<text x=\"" + num(px(bars[i].value) + 4) + "\" y=\"" + num(y + 15) + "\">" + num(bars[i].value) + "</text>\n";
  }
  const double axis = top + row * double(bars.size()) + 4;
  for (int t = 0; t <= 4; ++t)
    out += "<text x=\"" + num(px(t / 4.0)) + "\" y=\"" + num(axis + 14) + "\" text-anchor=\"middle\">" + num(t / 4.0) + "</text>\n";
  return out + "</svg>\n";
}

}  // namespace bg2vec::demo
