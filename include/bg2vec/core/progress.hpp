#pragma once
// A one-line progress report on stderr for long work: done/total, rate, ETA; redrawn at most a few
// times a second when stderr is a terminal; in a log, one line every 30 seconds and a final one.
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace bg2vec {

class Progress {
 public:
  Progress(std::string label, double total, std::string unit = "")
      : label_(std::move(label)), unit_(std::move(unit)), total_(total),
        start_(Clock::now()), last_(start_), tty_(::isatty(2)) {}

  // Report that `done` units are finished; `extra` is shown after the figures (e.g. "loss 2.31").
  void update(double done, const std::string& extra = "") {
    done_ = done;
    extra_ = extra;
    const auto now = Clock::now();
    // A terminal redraws one line often; a log (not a terminal) gets a new line every half minute.
    if (now - last_ > (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(30000))) { draw(false); last_ = now; }
  }

  void finish(const std::string& extra = "") {
    if (!extra.empty()) extra_ = extra;
    draw(true);
  }

  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;

  void draw(bool final) {
    const double s = seconds();
    const double rate = s > 0 ? done_ / s : 0;
    std::string line = label_ + " " + fmt(done_);
    if (total_ > 0) line += "/" + fmt(total_) + " (" + std::to_string(int(100 * done_ / total_)) + "%)";
    line += " " + unit_ + " " + fmt(rate) + " " + unit_ + "/s";
    if (!final && total_ > 0 && rate > 0) line += " ETA " + fmt((total_ - done_) / rate) + "s";
    if (final) line += " in " + fmt(s) + "s";
    if (!extra_.empty()) line += "  " + extra_;
    if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    else std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  static std::string fmt(double x) {
    char buf[32];
    if (x >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", x / 1e6);
    else if (x >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", x / 1e3);
    else if (x == double(long(x))) std::snprintf(buf, sizeof buf, "%ld", long(x));
    else std::snprintf(buf, sizeof buf, "%.2f", x);
    return buf;
  }

  std::string label_, unit_, extra_;
  double total_, done_ = 0;
  Clock::time_point start_, last_;
  bool tty_;
};

}  // namespace bg2vec
