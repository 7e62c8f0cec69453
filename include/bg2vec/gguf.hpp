#pragma once
// llama.cpp's GGUF model files: the reader (metadata, tensor infos, memory-mapped data) and the
// dequantization of its block types to float32 and bf16.
#include <bg2vec/gguf/blocks.hpp>
#include <bg2vec/gguf/dequantize.hpp>
#include <bg2vec/gguf/file.hpp>
#include <bg2vec/gguf/types.hpp>
