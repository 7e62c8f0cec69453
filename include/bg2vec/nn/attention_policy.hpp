#pragma once
// Which keys a query may see. A policy is a small type with constexpr members; key padding is applied
// on top of every policy. A user's experiment is one more type (examples/policies: a sliding window, an
// instruction prefix). Two forms say which keys:
//   position-only  static sees(query, key): the same for every row (Causal, Bidirectional);
//   row-aware      static row(batch, b), an object with sees(query, key) for row b alone: for masks that
//                  depend on the row's content (where its instruction ends), computed once per row.
// Either form may add cover(q0, q1, k0, k1) -> Cover, which of a tile's pairs are visible in O(1); without
// it the attention asks sees() pair by pair (correct for any policy, slower on long sequences).
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/error.hpp>

#include <concepts>
#include <string>
#include <string_view>

namespace bg2vec {

// Which pairs of a tile (queries [q0, q1) x keys [k0, k1)) are visible: none (skipped), all (no mask), some.
enum class Cover { None, Some, All };

// Decoder attention: a token sees itself and the tokens before it. Honours a model's sliding window.
struct Causal {
  static constexpr std::string_view name = "causal";
  static constexpr bool honours_sliding_window = true;
  static constexpr bool sees(int query, int key) { return key <= query; }
  static constexpr Cover cover(int q0, int q1, int k0, int k1) {
    return k0 > q1 - 1 ? Cover::None : k1 - 1 <= q0 ? Cover::All : Cover::Some;
  }
};

// LLM2Vec's encoder attention: every token sees every (non-pad) token. Mistral's sliding window is a
// causal concept and is not applied, as in LLM2Vec.
struct Bidirectional {
  static constexpr std::string_view name = "bidirectional";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool sees(int, int) { return true; }
  static constexpr Cover cover(int, int, int, int) { return Cover::All; }
};

// The parts of the concept, named so that a compiler's "constraints not satisfied" note says which is missing.
namespace policy {

template <class P>
concept has_name = requires { { P::name } -> std::convertible_to<std::string_view>; };

// Whether a model's sliding window (Mistral, Gemma's local layers) applies on top of the policy.
template <class P>
concept says_if_it_honours_sliding_window = requires { { P::honours_sliding_window } -> std::convertible_to<bool>; };

template <class P>
concept position_mask = requires { { P::sees(0, 0) } -> std::convertible_to<bool>; };

// A row-aware policy also says at compile time whether any query may see a later key
// (`sees_later_keys`): what the objectives check (Ntp refuses it, Mntp needs it).
template <class P>
concept row_mask = requires(const TokenBatch& batch) {
  { P::row(batch, 0).sees(0, 0) } -> std::convertible_to<bool>;
  { P::sees_later_keys } -> std::convertible_to<bool>;
};

template <class P>
concept says_which_keys_a_query_sees = position_mask<P> || row_mask<P>;

template <class P>
concept has_tile_cover = requires(const P& p) { { p.cover(0, 1, 0, 1) } -> std::same_as<Cover>; };

}  // namespace policy

template <class P>
concept AttentionPolicy = policy::has_name<P> && policy::says_if_it_honours_sliding_window<P> &&
                          policy::says_which_keys_a_query_sees<P>;

// Whether query 0 may see key 1: the compile-time fact the objectives' checks rest on.
template <AttentionPolicy P>
constexpr bool sees_later_keys() {
  if constexpr (policy::row_mask<P>) return P::sees_later_keys;
  else return P::sees(0, 1);
}

// Row b's mask: the row-aware policy's own object, or the position-only policy itself (its members are
// static, so the object is empty and every call inlines as before).
template <AttentionPolicy P>
constexpr auto row_mask(const TokenBatch& batch, int b) {
  if constexpr (policy::row_mask<P>) return P::row(batch, b);
  else return P{};
}

// Calls f.template operator()<Policy>() for a policy named at run time ("causal", "bidirectional").
template <class F>
decltype(auto) with_attention(std::string_view name, F&& f) {
  if (name == Causal::name) return f.template operator()<Causal>();
  if (name == Bidirectional::name) return f.template operator()<Bidirectional>();
  throw Error("unknown attention '" + std::string(name) + "' (expected causal or bidirectional)");
}

}  // namespace bg2vec
