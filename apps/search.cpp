// bg2vec search: the passages of an index folder closest to a query, with their scores.
#include "encoder_choice.hpp"

#include <bg2vec/eval/words.hpp>
#include <bg2vec/index/passage_index.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace bg2vec::cli {
namespace {

std::vector<std::string> read_queries(const po::variables_map& vm) {
  if (vm.count("query") == vm.count("queries")) fail("give exactly one of --query and --queries");
  std::vector<std::string> queries;
  if (vm.count("query")) {
    queries.push_back(vm["query"].as<std::string>());
    if (queries[0].find_first_not_of(" \t\r\n") == std::string::npos) fail("empty query: nothing to search for");
    return queries;
  }
  const std::filesystem::path file = vm["queries"].as<std::string>();
  std::ifstream in(file);
  if (!in) fail(file, "cannot open the queries file");
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) queries.push_back(line);
  if (queries.empty()) fail(file, "no queries (one per line expected)");
  return queries;
}

// At most `limit` characters (code points, not bytes: Cyrillic takes two bytes each).
std::string snippet(const std::string& text, size_t limit) {
  size_t pos = 0;
  for (size_t chars = 0; pos < text.size() && chars < limit; ++chars) next_code_point(text, pos);
  return pos < text.size() ? text.substr(0, pos) + "…" : text;
}

int search(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/false);
  options.add_options()
      ("index", po::value<std::string>()->required(), "index folder written by `bg2vec index build`")
      ("query", po::value<std::string>(), "the query text")
      ("queries", po::value<std::string>(), "a file of queries, one per line")
      ("k", po::value<int>()->default_value(10), "passages per query")
      ("search-params", po::value<std::string>()->default_value(""), "FAISS search parameters, e.g. efSearch=128 or nprobe=16")
      ("json", po::bool_switch(), "print one JSON object per query");
  po::variables_map vm;
  if (!parse("search", "Search an index folder. The query encoder is the model recorded in the folder's meta.json "
                       "(or --model, which must give vectors of the same dimension).", options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const std::vector<std::string> queries = read_queries(vm);
  const int k = vm["k"].as<int>();
  require(k > 0, "--k must be positive");

  auto index = index::PassageIndex::load(vm["index"].as<std::string>());
  if (!vm["search-params"].as<std::string>().empty()) index.set_search_parameters(vm["search-params"].as<std::string>());
  EncoderChoice choice = encoder_choice(vm);
  if (choice.model.empty()) {
    if (index.encoder().model.empty()) fail(vm["index"].as<std::string>(), "the index records no model: give --model");
    choice = {index.encoder().model, choice.attention.empty() ? index.encoder().attention : choice.attention,
              choice.pooling.empty() ? index.encoder().pooling : choice.pooling};
  }
  const Embedder embedder(choice, vm["batch-size"].as<int>());
  index.check_query_dimension(embedder.dimension());
  const auto results = index.search(embedder.embed(queries, queries.size() > 100), k);

  for (size_t q = 0; q < queries.size(); ++q) {
    if (vm["json"].as<bool>()) {
      nlohmann::json hits = nlohmann::json::array();
      for (size_t r = 0; r < results[q].size(); ++r) {
        const auto& h = results[q][r];
        hits.push_back({{"rank", r + 1}, {"score", h.score}, {"_id", h.passage->id}, {"title", h.passage->title},
                        {"text", h.passage->text}});
      }
      std::cout << nlohmann::json{{"query", queries[q]}, {"hits", hits}}.dump(
                       -1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      continue;
    }
    std::cout << "query: " << queries[q] << "\n";
    for (size_t r = 0; r < results[q].size(); ++r) {
      const auto& h = results[q][r];
      char head[64];
      std::snprintf(head, sizeof head, "%3zu. %.4f  ", r + 1, h.score);
      std::cout << head << "[" << h.passage->id << "] " << h.passage->title << ": " << snippet(h.passage->text, 160)
                << "\n";
    }
    if (q + 1 < queries.size()) std::cout << "\n";
  }
  return 0;
}

const Command registered_search{"search", "search an index folder for the passages closest to a query", search};

}  // namespace
}  // namespace bg2vec::cli
