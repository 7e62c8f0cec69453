#pragma once
// Text: Wikipedia dumps (bz2 + XML streaming), wikitext cleaning, sentence splitting, the sentencepiece tokenizer.
#include <bg2vec/text/articles.hpp>
#include <bg2vec/text/bz2_stream.hpp>
#include <bg2vec/text/extract.hpp>
#include <bg2vec/text/html_entities.hpp>
#include <bg2vec/text/prefetch.hpp>
#include <bg2vec/text/sentences.hpp>
#include <bg2vec/text/tokenizer.hpp>
#include <bg2vec/text/tokenizer_trainer.hpp>
#include <bg2vec/text/wiki_dump.hpp>
#include <bg2vec/text/wikitext.hpp>
