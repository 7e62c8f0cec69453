#pragma once
// Training: objectives (Ntp, Mntp, SimCse), the masking collator, optimizers and schedules, LoRA
// adapters in PEFT's format, checkpoints and the trainer.
#include <bg2vec/io/checkpoint.hpp>
#include <bg2vec/io/peft.hpp>
#include <bg2vec/train/batch.hpp>
#include <bg2vec/train/init.hpp>
#include <bg2vec/train/masking.hpp>
#include <bg2vec/train/objectives.hpp>
#include <bg2vec/train/optimizer.hpp>
#include <bg2vec/train/schedule.hpp>
#include <bg2vec/train/trainer.hpp>
