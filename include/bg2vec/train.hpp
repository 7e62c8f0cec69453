#pragma once
// Training: objectives (Ntp, Mntp, SimCse), the masking collator, optimizers and schedules, LoRA
// adapters in PEFT's format, checkpoints and the trainer.
#include <bg2vec/train/batch.hpp>
#include <bg2vec/train/objectives.hpp>
