#pragma once
// Core types: errors, tensors and views, dtypes, batches, atomic files, JSON lines, progress, UTF-8.
#include <bg2vec/core/atomic_file.hpp>
#include <bg2vec/core/batch.hpp>
#include <bg2vec/core/dtype.hpp>
#include <bg2vec/core/error.hpp>
#include <bg2vec/core/folder_lock.hpp>
#include <bg2vec/core/jsonl.hpp>
#include <bg2vec/core/progress.hpp>
#include <bg2vec/core/resources.hpp>
#include <bg2vec/core/tensor.hpp>
#include <bg2vec/core/utf8.hpp>
