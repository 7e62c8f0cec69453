#pragma once
// Training and evaluation data: token shards for (M)NTP, SimCSE units, the BEIR retrieval set.
#include <bg2vec/data/retrieval_set.hpp>
#include <bg2vec/data/shards.hpp>
#include <bg2vec/data/simcse_units.hpp>
#include <bg2vec/data/split.hpp>
#include <bg2vec/data/tokenize_corpus.hpp>
