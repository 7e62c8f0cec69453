#pragma once
// Training: objectives (Ntp, Mntp, SimCse), the masking collator, optimizers and schedules,
// checkpoints and the trainer (LoRA adapters and their PEFT files are in nn.hpp).
#include <bg2vec/train/batch.hpp>
#include <bg2vec/train/checkpoint.hpp>
#include <bg2vec/train/init.hpp>
#include <bg2vec/train/masking.hpp>
#include <bg2vec/train/objectives.hpp>
#include <bg2vec/train/optimizer.hpp>
#include <bg2vec/train/schedule.hpp>
#include <bg2vec/train/trainer.hpp>
