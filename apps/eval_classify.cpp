// bg2vec eval classify: how well embeddings separate labelled texts, by kNN and by a linear probe.
#include "encoder_choice.hpp"

#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/eval/classification.hpp>
#include <bg2vec/eval/labels.hpp>
#include <bg2vec/eval/linear_probe.hpp>
#include <bg2vec/index/threads.hpp>

#include <cstdio>

namespace bg2vec::cli {
namespace {

int eval_classify(const Args& args) {
  po::options_description options("options");
  add_encoder_options(options, /*model_required=*/true);
  options.add_options()
      ("train", po::value<std::string>()->required(), "TSV: label<TAB>text per line (training set)")
      ("test", po::value<std::string>()->required(), "TSV: label<TAB>text per line (test set)")
      ("k", po::value<int>()->default_value(5), "neighbours for kNN")
      ("iterations", po::value<int>()->default_value(300), "gradient-descent steps of the linear probe")
      ("json", po::value<std::string>(), "write the scores as JSON");
  po::variables_map vm;
  if (!parse("eval classify", "Classify labelled texts from their embeddings: kNN (cosine, majority vote) and a "
                              "linear probe (logistic regression); accuracy and macro-F1 on the test set.",
             options, args, vm))
    return 0;
  const index::ThreadLimit threads(vm["threads"].as<int>());
  const eval::LabelledTexts train = eval::load_labelled_tsv(vm["train"].as<std::string>());
  const eval::LabelledTexts test = eval::load_labelled_tsv(vm["test"].as<std::string>());
  eval::LabelSet labels;
  std::vector<int> train_classes, test_classes;
  for (const std::string& l : train.labels) train_classes.push_back(labels.add(l));
  const int trained_classes = labels.size();
  if (trained_classes < 2) fail(vm["train"].as<std::string>(), "needs at least two labels");
  for (const std::string& l : test.labels) test_classes.push_back(labels.add(l));   // unseen labels: always wrong

  const Embedder embedder(encoder_choice(vm), vm["batch-size"].as<int>());
  const Matrix train_vectors = embedder.embed(train.texts), test_vectors = embedder.embed(test.texts);
  const auto knn = eval::classification_scores(
      test_classes, eval::knn_predict(train_vectors, train_classes, test_vectors, vm["k"].as<int>()));
  const eval::LinearProbe probe(train_vectors, train_classes, trained_classes, {vm["iterations"].as<int>()});
  const auto linear = eval::classification_scores(test_classes, probe.predict(test_vectors));

  std::printf("%zu training, %zu test texts, %d labels\nmethod        accuracy  macro-F1\n", train.texts.size(),
              test.texts.size(), labels.size());
  std::printf("kNN (k=%-3d)   %.4f    %.4f\nlinear probe  %.4f    %.4f\n", vm["k"].as<int>(), knn.accuracy,
              knn.macro_f1, linear.accuracy, linear.macro_f1);
  if (vm.count("json")) {
    const nlohmann::json j = {{"train", train.texts.size()}, {"test", test.texts.size()}, {"labels", labels.size()},
                              {"knn", {{"k", vm["k"].as<int>()}, {"accuracy", knn.accuracy}, {"macro_f1", knn.macro_f1}}},
                              {"linear_probe", {{"accuracy", linear.accuracy}, {"macro_f1", linear.macro_f1}}}};
    write_file_atomically(vm["json"].as<std::string>(), j.dump(2) + "\n");
  }
  return 0;
}

const Command registered_eval_classify{"eval classify", "kNN and linear-probe classification on embeddings", eval_classify};

}  // namespace
}  // namespace bg2vec::cli
