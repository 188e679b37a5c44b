#!/usr/bin/env bash
# From scratch with the hit prior against fine-tuning from v1, at equal steps, on the ladder
# (experiments/default_model_v2/README.md, "Fine-tuned against from scratch"):
# `make default-model-v2-scratch [ARGS="…"]`, after `make default-model-v2` and `-width`.
# The first comparison (1,000 steps) was made before branches.hit_prior existed, against a scratch
# run that spent 500 steps learning to say anything. Here the width comparison's crnn_small arm
# (width_small_s42: from scratch, hit prior 0.01, seed 42, 1,431 steps in its 90 minutes) is
# continued to 3,000 steps, the fine-tuned run's budget (finetune_s42_long, seed 42, the same data
# and preset), keeping its own 100-step epochs and 48 validation tracks so the continuation is the
# same run; then tuned and scored on every rung like the recipe's runs, and one summary of both.
# Resumable: every step skips what is done. Arguments: Hydra overrides for the training.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

require $V2/width_small_s42/checkpoints/last.ckpt default-model-v2-width
require $V2/finetune_s42_long/best.safetensors default-model-v2
one $V2/scratch_prior_s42 $V2/width_small_s42 \
	"seed=42 init_weights=null encoder=crnn_small trainer.limit_train_batches=100 data.val_max_tracks=48 trainer.max_time=null callbacks.step_budget.max_steps=3000" "$@"
for run in finetune_s42_long scratch_prior_s42; do
	tune "$run"
	score "$run"
done
rung_summary scratch "From scratch (hit prior 0.01) against fine-tuned from v1: seed 42, 3,000 steps each on synth_songs" \
	"fine-tuned|finetune_s42_long" "scratch|scratch_prior_s42"
