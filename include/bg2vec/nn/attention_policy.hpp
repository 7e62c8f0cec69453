#pragma once
// Which keys a query may see. A policy is a small type with constexpr members; key padding is applied
// on top of every policy. A user's experiment is one more type (e.g. a fixed local window).
#include <bg2vec/core/error.hpp>

#include <concepts>
#include <string>
#include <string_view>

namespace bg2vec {

// Decoder attention: a token sees itself and the tokens before it. Honours a model's sliding window.
struct Causal {
  static constexpr std::string_view name = "causal";
  static constexpr bool honours_sliding_window = true;
  static constexpr bool sees(int query, int key) { return key <= query; }
};

// LLM2Vec's encoder attention: every token sees every (non-pad) token. Mistral's sliding window is a
// causal concept and is not applied, as in LLM2Vec.
struct Bidirectional {
  static constexpr std::string_view name = "bidirectional";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees(int, int) { return true; }
};

template <class P>
concept AttentionPolicy = requires {
  { P::sees(0, 0) } -> std::convertible_to<bool>;
  { P::name } -> std::convertible_to<std::string_view>;
  { P::honours_sliding_window } -> std::convertible_to<bool>;
};

// Calls f.template operator()<Policy>() for a policy named at run time ("causal", "bidirectional").
template <class F>
decltype(auto) with_attention(std::string_view name, F&& f) {
  if (name == Causal::name) return f.template operator()<Causal>();
  if (name == Bidirectional::name) return f.template operator()<Bidirectional>();
  throw Error("unknown attention '" + std::string(name) + "' (expected causal or bidirectional)");
}

}  // namespace bg2vec
