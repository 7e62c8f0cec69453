#pragma once
// Model input/output: safetensors, sharded weight folders, HF config.json, token batches.
#include <bg2vec/io/batch_file.hpp>
#include <bg2vec/io/hf_config.hpp>
#include <bg2vec/io/mapped_file.hpp>
#include <bg2vec/io/safetensors.hpp>
#include <bg2vec/io/tensor_store.hpp>
