// error: says_which_keys_a_query_sees
// A user's attention policy that forgot to say which keys a query sees (neither sees(query, key) nor a
// row-aware row(batch, b)): the concept's note names the missing part.
#include <bg2vec/nn.hpp>

struct Window {
  static constexpr std::string_view name = "window";
  static constexpr bool honours_sliding_window = false;
  static constexpr bool visible(int query, int key) { return query - key < 4 && key - query < 4; }   // misnamed
};
bg2vec::Decoder<Window>* decoder = nullptr;
