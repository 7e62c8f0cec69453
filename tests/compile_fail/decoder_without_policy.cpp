// error: AttentionPolicy
// A decoder's attention must be a policy type (Causal, Bidirectional or one of the same shape).
#include <bg2vec/nn.hpp>

struct NotAPolicy {};
bg2vec::Decoder<NotAPolicy>* decoder = nullptr;
