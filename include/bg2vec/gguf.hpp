#pragma once
// llama.cpp's GGUF model files: the reader (metadata, tensor infos, memory-mapped data) and the
// dequantization of its block types to float32 and bf16; a model's metadata as an io::ModelConfig and its
// tensors under Hugging Face names (nn/model.hpp's load_model reads a GGUF file through these); and the way
// out: the writer, the quantizers (F16, BF16, Q8_0) and a model as a GGUF for llama.cpp (gguf export).
#include <bg2vec/gguf/blocks.hpp>
#include <bg2vec/gguf/dequantize.hpp>
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/gguf/model_config.hpp>
#include <bg2vec/gguf/model_export.hpp>
#include <bg2vec/gguf/model_tensors.hpp>
#include <bg2vec/gguf/quantize.hpp>
#include <bg2vec/gguf/types.hpp>
#include <bg2vec/gguf/writer.hpp>
