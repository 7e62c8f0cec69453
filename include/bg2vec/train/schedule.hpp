#pragma once
// Learning-rate schedules: the rate of step s (0-based) out of `total`, with a linear warm-up over the
// first `warmup` steps (lr * (s+1)/warmup) and then constant or linear decay to 0 at `total`
// (transformers' get_linear_schedule_with_warmup).
#include <bg2vec/core/error.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace bg2vec::train {

struct Schedule {
  enum class Kind { Constant, Linear };
  Kind kind = Kind::Constant;
  float lr = 1e-3f;
  int warmup = 0;
  int total = 1;

  static Kind parse(std::string_view name) {
    if (name == "constant") return Kind::Constant;
    if (name == "linear") return Kind::Linear;
    fail("unknown schedule '" + std::string(name) + "' (expected constant or linear)");
  }

  float at(int step) const {
    if (step < warmup) return lr * float(step + 1) / float(warmup);
    if (kind == Kind::Constant) return lr;
    const int decay = std::max(1, total - warmup);
    return lr * std::max(0.0f, float(total - step) / float(decay));
  }
};

}  // namespace bg2vec::train
