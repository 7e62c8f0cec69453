#pragma once
// The network: policies, layers (forward and backward side by side), decoder, pooling, encoder, LoRA
// adapters and their PEFT files.
#include <bg2vec/nn/activations.hpp>
#include <bg2vec/nn/attention.hpp>
#include <bg2vec/nn/attention_policy.hpp>
#include <bg2vec/nn/cross_entropy.hpp>
#include <bg2vec/nn/decoder.hpp>
#include <bg2vec/nn/dropout.hpp>
#include <bg2vec/nn/embedding.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/inference_model.hpp>
#include <bg2vec/nn/info_nce.hpp>
#include <bg2vec/nn/linear.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/nn/mlp.hpp>
#include <bg2vec/nn/model.hpp>
#include <bg2vec/nn/parameters.hpp>
#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/pooling.hpp>
#include <bg2vec/nn/rmsnorm.hpp>
#include <bg2vec/nn/rope.hpp>
