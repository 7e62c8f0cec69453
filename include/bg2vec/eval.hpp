#pragma once
// bg2vec::eval: BEIR data, retrieval metrics and runs (BM25 and dense), and the other evaluations.
#include <bg2vec/eval/beir.hpp>
#include <bg2vec/eval/bm25.hpp>
#include <bg2vec/eval/classification.hpp>
#include <bg2vec/eval/clustering.hpp>
#include <bg2vec/eval/labels.hpp>
#include <bg2vec/eval/linear_probe.hpp>
#include <bg2vec/eval/metrics.hpp>
#include <bg2vec/eval/report.hpp>
#include <bg2vec/eval/retrieval.hpp>
#include <bg2vec/eval/trec_run.hpp>
#include <bg2vec/eval/triples.hpp>
#include <bg2vec/eval/tsv.hpp>
#include <bg2vec/eval/words.hpp>
