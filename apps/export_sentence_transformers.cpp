// bg2vec export sentence-transformers: a Gemma-3 encoder as a folder that `SentenceTransformer(DIR)` loads
// with no custom code: transformers' Gemma3TextModel with use_bidirectional_attention (the switch that
// EmbeddingGemma uses), the merged weights under its names (model.safetensors, float32), a tokenizer.json
// (text/hf_tokenizer_json.hpp: no sentencepiece needed) with its tokenizer_config.json, the tokenizer.model
// too, and sentence-transformers' modules.json, sentence_bert_config.json and 1_Pooling/config.json.
// Other architectures are refused: their transformers classes have no bidirectional switch, so
// sentence-transformers would run them causally.
#include "cli.hpp"

#include <bg2vec/nn/peft.hpp>
#include <bg2vec/nn/encoder.hpp>
#include <bg2vec/nn/lora.hpp>
#include <bg2vec/text/hf_tokenizer_json.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace bg2vec::cli {
namespace {

// sentence-transformers' Pooling flags for bg2vec's pooling names.
nlohmann::json pooling_config(const std::string& pooling, int hidden) {
  const std::string mode = pooling == "mean" ? "pooling_mode_mean_tokens"
                           : pooling == "weighted-mean" ? "pooling_mode_weightedmean_tokens"
                           : pooling == "last" ? "pooling_mode_lasttoken"
                           : pooling == "bos" ? "pooling_mode_cls_token" : "";
  if (mode.empty()) fail("--pooling must be mean, weighted-mean, last or bos, not '" + pooling + "'");
  nlohmann::json j = {{"word_embedding_dimension", hidden}};
  for (const char* m : {"pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                        "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
    j[m] = mode == m;
  j["include_prompt"] = true;
  return j;
}

int export_sentence_transformers(const Args& args) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "the encoder: a Hugging Face folder with tokenizer.model (e.g. out/demo/encoder), or a GGUF file")
      ("out", po::value<std::string>()->required(), "output folder (must not exist, or be empty)")
      ("adapter", po::value<std::string>(), "a PEFT LoRA adapter folder to merge into the weights first (not DIR/adapter of a folder "
                                             "written by train: that one is merged already)")
      ("attention", po::value<std::string>()->default_value(""), "causal | bidirectional (default: the folder's bg2vec.json)")
      ("pooling", po::value<std::string>()->default_value(""), "mean | weighted-mean | last | bos (default: bg2vec.json)")
      ("include-bos", po::bool_switch(), "pool BOS too, for an encoder that leaves it out (bg2vec.json skip_bos, as the demo's): "
                                         "sentence-transformers' pooling averages every token");
  po::variables_map vm;
  if (!parse("export sentence-transformers",
             "Write a Gemma-3 encoder as a folder that sentence-transformers loads (SentenceTransformer(DIR)), bidirectional through "
             "transformers' use_bidirectional_attention.",
             options, args, vm))
    return 0;
  const std::filesystem::path model_path = vm["model"].as<std::string>(), out = vm["out"].as<std::string>();
  if (std::filesystem::exists(out) && !(std::filesystem::is_directory(out) && std::filesystem::is_empty(out)))
    fail(out, "already exists and is not an empty folder (choose another --out)");

  const io::ModelConfig config = load_model_config(model_path);
  if (!config.is_gemma3())
    fail(model_path, "is " + config.architecture + ": only Gemma-3 can be exported for sentence-transformers. transformers' "
         "Gemma3TextModel has a switch for bidirectional attention (use_bidirectional_attention, as EmbeddingGemma uses); the "
         "Llama, Mistral and Gemma-2 classes have none, so sentence-transformers would run this encoder with causal attention "
         "and its embeddings would not be the encoder's. Serve it with llama.cpp instead (bg2vec gguf export --model DIR "
         "--out encoder.gguf; docs/serving.md), or embed with bg2vec encode");
  EncoderSettings settings = EncoderSettings::load(model_path);
  if (!vm["attention"].as<std::string>().empty()) settings.attention = vm["attention"].as<std::string>();
  if (!vm["pooling"].as<std::string>().empty()) settings.pooling = vm["pooling"].as<std::string>();
  if (settings.attention != "causal" && settings.attention != "bidirectional")
    fail("--attention must be causal or bidirectional, not '" + settings.attention + "'");
  if (vm["include-bos"].as<bool>()) settings.skip_bos = false;
  if (settings.skip_bos && (settings.pooling == "mean" || settings.pooling == "weighted-mean"))
    fail(model_path, "this encoder leaves BOS out of its " + settings.pooling + " pooling (bg2vec.json skip_bos), which "
         "sentence-transformers' Pooling cannot without custom code: give --include-bos (every token pooled, BOS too: close to "
         "the encoder, not the same), or serve it with llama.cpp (bg2vec gguf export --token-embeddings) or bg2vec encode");
  const nlohmann::json pooling = pooling_config(settings.pooling, config.hidden_size);
  const bool bidirectional = settings.attention == "bidirectional";

  // Everything is read and checked before anything is written.
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::string tokenizer_bytes;
  if (is_gguf(model_path)) {
    tokenizer_bytes = text::tokenizer_from_gguf(gguf::GgufFile(model_path)).serialized();
  } else {
    const auto file = model_path / "tokenizer.model";
    if (!std::filesystem::exists(file)) fail(model_path, "has no tokenizer.model (copy the tokenizer.model of the model it was trained from)");
    std::ifstream in(file, std::ios::binary);
    tokenizer_bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const text::ParsedSentencePiece tokenizer = text::parse_sentencepiece(tokenizer_bytes, (model_path / "tokenizer.model").string());
  const text::SentencePieceModel& spm = tokenizer.model;
  if (spm.algorithm != text::SentencePieceAlgorithm::bpe)
    fail(model_path / "tokenizer.model", "is not a BPE sentencepiece model (tokenizer.json is written for BPE models only)");
  if ((tokenizer.normalizer_name != "identity" && !tokenizer.normalizer_name.empty()) || tokenizer.has_charsmap || spm.remove_extra_whitespaces)
    std::fprintf(stderr, "warning: the tokenizer normalizes text ('%s'%s); the tokenizer.json written does not\n",
                 tokenizer.normalizer_name.c_str(), spm.remove_extra_whitespaces ? ", extra whitespace removed" : "");
  Model model = load_model(model_path);
  if (vm.count("adapter")) {
    merge_lora(model.weights(), peft::load_adapter(vm["adapter"].as<std::string>(), model.config()));
    std::fprintf(stderr, "merged the LoRA adapter %s\n", vm["adapter"].as<std::string>().c_str());
  }

  // config.json: Gemma3TextModel. transformers halves a bidirectional model's sliding_window (w // 2 + 1, and
  // masks |distance| >= that); bg2vec's bidirectional attention has no window, so the window written is twice
  // the context: nothing within it is masked. The layer types stay: the sliding layers' rotary base differs.
  nlohmann::json cfg = io::to_json(model.config());
  cfg["architectures"] = {"Gemma3TextModel"};
  cfg["model_type"] = "gemma3_text";
  cfg["use_bidirectional_attention"] = bidirectional;
  const int context = config.max_position_embeddings > 0 ? config.max_position_embeddings : 32768;
  if (bidirectional) cfg["sliding_window"] = 2 * context;
  cfg.erase("torch_dtype");
  cfg["dtype"] = "float32";

  const auto piece = [&](int32_t id) { return id >= 0 ? nlohmann::json(spm.pieces[size_t(id)].text) : nlohmann::json(nullptr); };
  const auto control = [&](int32_t id) { return id >= 0 && spm.pieces[size_t(id)].type == text::PieceType::control ? id : -1; };
  const int32_t bos = control(spm.bos_id), eos = control(spm.eos_id), pad = control(spm.pad_id) >= 0 ? control(spm.pad_id) : control(spm.eos_id);
  text::SentencePieceModel for_json = spm;
  for_json.bos_id = bos, for_json.eos_id = eos;
  const nlohmann::json tokenizer_config = {
      {"tokenizer_class", "PreTrainedTokenizerFast"}, {"bos_token", piece(bos)}, {"eos_token", piece(eos)},
      {"unk_token", piece(spm.unk_id)}, {"pad_token", piece(pad)}, {"add_bos_token", bos >= 0}, {"add_eos_token", false},
      {"model_max_length", settings.max_length}, {"padding_side", "right"}, {"clean_up_tokenization_spaces", false}};

  write_folder_atomically(out, [&](const std::filesystem::path& temp) {
    std::filesystem::create_directories(temp / "1_Pooling");
    io::SafetensorsWriter weights;
    weights.metadata("format", "pt");
    for (const auto& p : model.layout().tensors()) {
      if (p.name == "lm_head.weight") continue;   // an encoder has no head
      const std::string name = p.name.starts_with("model.") ? p.name.substr(6) : p.name;
      weights.add(name, p.shape, model.parameter(p.name));
    }
    weights.save(temp / "model.safetensors");
    write_file_atomically(temp / "config.json", cfg.dump(2) + "\n");
    write_file_atomically(temp / "tokenizer.model", tokenizer_bytes);
    write_file_atomically(temp / "tokenizer.json", text::hf_tokenizer_json(for_json, bos >= 0, false).dump() + "\n");
    write_file_atomically(temp / "tokenizer_config.json", tokenizer_config.dump(2) + "\n");
    const nlohmann::json modules = nlohmann::json::array(
        {{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
         {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
    write_file_atomically(temp / "modules.json", modules.dump(2) + "\n");
    write_file_atomically(temp / "sentence_bert_config.json",
                          nlohmann::json{{"max_seq_length", settings.max_length}, {"do_lower_case", false}}.dump(2) + "\n");
    write_file_atomically(temp / "config_sentence_transformers.json",
                          nlohmann::json{{"similarity_fn_name", "cosine"}, {"prompts", nlohmann::json::object()},
                                         {"default_prompt_name", nullptr}}.dump(2) + "\n");
    write_file_atomically(temp / "1_Pooling" / "config.json", pooling.dump(2) + "\n");
    settings.attention = bidirectional ? "bidirectional" : "causal";
    settings.save(temp);
  });
  std::printf("wrote %s: Gemma3TextModel (%s attention, %s pooling, max_seq_length %d), %zu pieces, in %.1f s\n", out.c_str(),
              settings.attention.c_str(), settings.pooling.c_str(), settings.max_length, spm.pieces.size(), seconds());
  return 0;
}

const Command registered_export_sentence_transformers{"export sentence-transformers",
                         "write a Gemma-3 encoder as a folder that sentence-transformers loads (bidirectional, pooling module)",
                         export_sentence_transformers};

}  // namespace
}  // namespace bg2vec::cli
