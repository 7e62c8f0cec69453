#pragma once
// Bg2Vec: the whole library in one include.
#include <bg2vec/core.hpp>
#include <bg2vec/io.hpp>
#include <bg2vec/gguf.hpp>
#include <bg2vec/nn.hpp>
#include <bg2vec/train.hpp>
#include <bg2vec/text.hpp>
#include <bg2vec/data.hpp>
#include <bg2vec/index.hpp>
#include <bg2vec/eval.hpp>
