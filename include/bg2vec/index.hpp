#pragma once
// bg2vec::index: FAISS indexes of embeddings, the passages behind them and their folders.
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/index/passage_store.hpp>
#include <bg2vec/index/recall.hpp>
#include <bg2vec/index/threads.hpp>
#include <bg2vec/index/vector_index.hpp>
