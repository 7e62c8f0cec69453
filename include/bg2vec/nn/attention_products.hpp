#pragma once
// The matrix products of the tiled attention (nn/attention.hpp), as a policy: the attention's loops (online
// softmax, masks, dropout, dS) are written once and call
//   forward:  S = s Q K^T,  O += P V
//   backward: S = s Q K^T,  dP = dO V^T,  dV += (P Z)^T dO,  dQ += dS K,  dK += dS^T Q
// on tiles given by their positions in batch row b. F32Products runs them on Eigen in float32 (the reference:
// what the parity tests check); Bf16Products in bf16 with float32 accumulation (backend/cpu/attention_bf16.hpp),
// for CPUs with AVX512-BF16 and an even head_dim.
#include <bg2vec/backend/cpu/attention_bf16.hpp>
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/nn/attention_tiles.hpp>

#include <vector>

namespace bg2vec::layers {

// Float32 on Eigen.
struct F32Products {
  static constexpr bool pairs_positions = false;
  class Forward {
   public:
    Forward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
            const TokenBatch& batch, int heads, int kv_heads, int head_dim, const KeyPadding&)
        : q_(q), k_(k), v_(v), T_(batch.seq_len), d_(head_dim), group_(heads / kv_heads) {}
    void scores(int b, int h, int q0, int k0, float scale, Eigen::Ref<Matrix> S) const {
      const Eigen::Index r = Eigen::Index(b) * T_;
      S.noalias() = (q_.block(r + q0, h * d_, S.rows(), d_) * k_.block(r + k0, (h / group_) * d_, S.cols(), d_).transpose()) * scale;
    }
    void add_values(const Eigen::Ref<const Matrix>& P, int b, int h, int k0, Eigen::Ref<Matrix> O) const {
      O.noalias() += P * v_.block(Eigen::Index(b) * T_ + k0, (h / group_) * d_, P.cols(), d_);
    }

   private:
    const Eigen::Ref<const Matrix>&q_, &k_, &v_;
    int T_, d_, group_;
  };

  class Backward {
   public:
    Backward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
             const Eigen::Ref<const Matrix>& d_out, const TokenBatch& batch, int, int, int head_dim, const KeyPadding&)
        : q_(q), k_(k), v_(v), d_out_(d_out), T_(batch.seq_len), d_(head_dim) {}

    // One (batch row b, kv head g): accumulates straight into its rows of dk and dv.
    class Unit {
      const Backward& p_;
      Eigen::Index row0_;
      int g_, h_ = 0;
      Eigen::Ref<Matrix> dK_, dV_;
      // Rows c0.. of head h_ of q or d_out; keys k0.. of kv head g_ of k or v.
      auto rows(const Eigen::Ref<const Matrix>& x, int c0, Eigen::Index n) const { return x.block(row0_ + c0, h_ * p_.d_, n, p_.d_); }
      auto keys(const Eigen::Ref<const Matrix>& x, int k0, Eigen::Index n) const { return x.block(row0_ + k0, g_ * p_.d_, n, p_.d_); }

     public:
      Unit(const Backward& p, int b, int g, Eigen::Ref<Matrix> dK, Eigen::Ref<Matrix> dV)
          : p_(p), row0_(Eigen::Index(b) * p.T_), g_(g), dK_(dK), dV_(dV) {
        dK_.setZero();
        dV_.setZero();
      }
      void head(int h, int, int) { h_ = h; }
      void scores(int c0, int k0, float scale, Eigen::Ref<Matrix> S) const {
        S.noalias() = (rows(p_.q_, c0, S.rows()) * keys(p_.k_, k0, S.cols()).transpose()) * scale;
      }
      void grad_probs(int c0, int k0, Eigen::Ref<Matrix> dP) const {
        dP.noalias() = rows(p_.d_out_, c0, dP.rows()) * keys(p_.v_, k0, dP.cols()).transpose();
      }
      void add_value_grad(const Eigen::Ref<const Matrix>& PZ, int c0, int k0) {
        dV_.middleRows(k0, PZ.cols()).noalias() += PZ.transpose() * rows(p_.d_out_, c0, PZ.rows());
      }
      void add_key_grad(const Eigen::Ref<const Matrix>& dS, int c0, int k0) {
        dK_.middleRows(k0, dS.cols()).noalias() += dS.transpose() * rows(p_.q_, c0, dS.rows());
      }
      void add_query_grad(const Eigen::Ref<const Matrix>& dS, int k0, Eigen::Ref<Matrix> dQ) const {
        dQ.noalias() += dS * keys(p_.k_, k0, dS.cols());
      }
      void finish() {}
    };
    Unit unit(int b, int g, Eigen::Ref<Matrix> dK, Eigen::Ref<Matrix> dV) const { return Unit(*this, b, g, dK, dV); }

   private:
    const Eigen::Ref<const Matrix>&q_, &k_, &v_, &d_out_;
    int T_, d_;
  };
};

// bf16 operands, float32 accumulation (AVX512-BF16).
struct Bf16Products {
  // Keys pair up from a row's first key tile, queries from a head's first row with a gradient: tiles of an
  // even size start on a pair.
  static constexpr bool pairs_positions = true;
  static bool supports(int head_dim) { return head_dim % 2 == 0; }   // a head's values pair up

  class Forward {
   public:
    Forward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
            const TokenBatch& batch, int heads, int kv_heads, int head_dim, const KeyPadding& padding)
        : first_(key_first(batch, padding, head_dim)), p_(q, k, v, {batch.batch, batch.seq_len, heads, kv_heads, head_dim}, first_) {}
    void scores(int b, int h, int q0, int k0, float scale, Eigen::Ref<Matrix> S) const { p_.scores(b, h, q0, k0, scale, S); }
    void add_values(const Eigen::Ref<const Matrix>& P, int b, int h, int k0, Eigen::Ref<Matrix> O) const {
      p_.add_values(P, b, h, k0, O);
    }

   private:
    std::vector<int> first_;
    backend::cpu::Bf16AttentionForward p_;
  };

  class Backward {
   public:
    Backward(const Eigen::Ref<const Matrix>& q, const Eigen::Ref<const Matrix>& k, const Eigen::Ref<const Matrix>& v,
             const Eigen::Ref<const Matrix>& d_out, const TokenBatch& batch, int heads, int kv_heads, int head_dim,
             const KeyPadding& padding)
        : first_(key_first(batch, padding, head_dim)),
          p_(q, k, v, d_out, {batch.batch, batch.seq_len, heads, kv_heads, head_dim}, first_) {}
    auto unit(int b, int g, Eigen::Ref<Matrix> dK, Eigen::Ref<Matrix> dV) const { return p_.unit(b, g, dK, dV); }

   private:
    std::vector<int> first_;
    backend::cpu::Bf16AttentionBackward p_;
  };

 private:
  // The first key the tiles visit in each row: the products pair keys from there.
  static std::vector<int> key_first(const TokenBatch& batch, const KeyPadding& padding, int head_dim) {
    require(supports(head_dim), "bf16 attention needs an even head_dim");
    std::vector<int> first(size_t(batch.batch));
    for (int b = 0; b < batch.batch; ++b) first[size_t(b)] = padding.first(b);
    return first;
  }
};

}  // namespace bg2vec::layers
