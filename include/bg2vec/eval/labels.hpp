#pragma once
// Labelled texts for classification and clustering: TSV lines `label<TAB>text`. Labels are strings in
// the file and dense class numbers (0..classes-1, in order of first appearance) in the computations.
#include <bg2vec/eval/tsv.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace bg2vec::eval {

class LabelSet {
 public:
  // The class number of `label`, adding it when new.
  int add(const std::string& label) {
    auto [it, added] = numbers_.try_emplace(label, int(names_.size()));
    if (added) names_.push_back(label);
    return it->second;
  }
  // The class number of a known label, -1 for one never added.
  int find(const std::string& label) const {
    auto it = numbers_.find(label);
    return it == numbers_.end() ? -1 : it->second;
  }
  const std::string& name(int number) const { return names_.at(size_t(number)); }
  int size() const { return int(names_.size()); }

 private:
  std::map<std::string, int> numbers_;
  std::vector<std::string> names_;
};

struct LabelledTexts {
  std::vector<std::string> texts;
  std::vector<std::string> labels;
};

inline LabelledTexts load_labelled_tsv(const std::filesystem::path& file) {
  LabelledTexts data;
  for (auto& row : read_tsv(file, 2, "label<TAB>text")) {
    data.labels.push_back(std::move(row[0]));
    data.texts.push_back(std::move(row[1]));
  }
  return data;
}

}  // namespace bg2vec::eval
