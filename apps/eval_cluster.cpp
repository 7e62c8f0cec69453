// bg2vec eval cluster: k-means on embeddings against gold labels (V-measure).
#include "encoder_choice.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/clustering.hpp>
#include <bg2vec/eval/labels.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>

namespace bg2vec::cli {
namespace {

int eval_cluster(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/true);
  options.add_options()
      ("data", po::value<std::string>()->required(), "TSV: label<TAB>text per line")
      ("k", po::value<int>()->default_value(0), "clusters (0: the number of labels)")
      ("json", po::value<std::string>(), "write the scores as JSON");
  po::variables_map vm;
  if (!parse("eval cluster", "Cluster labelled texts by spherical k-means on their embeddings; V-measure "
                             "(homogeneity, completeness) against the labels.", options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const eval::LabelledTexts data = eval::load_labelled_tsv(vm["data"].as<std::string>());
  eval::LabelSet labels;
  std::vector<int> classes;
  for (const std::string& l : data.labels) classes.push_back(labels.add(l));
  const int k = vm["k"].as<int>() > 0 ? vm["k"].as<int>() : labels.size();

  const Embedder embedder(encoder_choice(vm), vm["batch-size"].as<int>());
  const eval::VMeasure v = eval::v_measure(classes, eval::kmeans(embedder.embed(data.texts), k));
  std::printf("%zu texts, %d labels, k=%d: V-measure %.4f (homogeneity %.4f, completeness %.4f)\n", data.texts.size(),
              labels.size(), k, v.v_measure, v.homogeneity, v.completeness);
  if (vm.count("json")) {
    const nlohmann::json j = {{"texts", data.texts.size()}, {"labels", labels.size()}, {"k", k},
                              {"v_measure", v.v_measure}, {"homogeneity", v.homogeneity}, {"completeness", v.completeness}};
    write_file_atomically(vm["json"].as<std::string>(), j.dump(2) + "\n");
  }
  return 0;
}

const Command registered_eval_cluster{"eval cluster", "k-means clustering of embeddings, V-measure against labels", eval_cluster};

}  // namespace
}  // namespace bg2vec::cli
