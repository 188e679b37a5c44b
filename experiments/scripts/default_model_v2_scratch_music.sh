#!/usr/bin/env bash
# The from-scratch run with the shipped model's last step (experiments/default_model_v2/README.md,
# "Fine-tuned against from scratch"): `make default-model-v2-scratch-music [ARGS="…"]`, after
# `make default-model-v2-scratch` and `-music`. At 3,000 steps the from-scratch crnn_small arm
# (scratch_prior_s42) beat the fine-tuned run of the same steps on the unseen rungs; the shipped v2
# is the fine-tuned run continued by 500 steps with music-only tracks served 4x as often
# (music_w4_s42). Here the scratch run is continued the same way (500 steps, the same weighting,
# seed 42), tuned and scored on every rung, and lined up against the shipped model: the candidate
# for v2's replacement if it beats it on every rung. Resumable: every step skips what is done.
# Arguments: Hydra overrides for the training.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

require $V2/scratch_prior_s42/checkpoints/last.ckpt default-model-v2-scratch
require $V2/music_w4_s42/best.safetensors default-model-v2-music
one $V2/scratch_music_w4_s42 $V2/scratch_prior_s42 \
	"seed=42 init_weights=null encoder=crnn_small trainer.limit_train_batches=100 data.val_max_tracks=48 trainer.max_time=null callbacks.step_budget.max_steps=3500 data.train_kit_weights={none+music:4}" "$@"
tune scratch_music_w4_s42
score scratch_music_w4_s42
rung_summary scratch_music \
	"From scratch against fine-tuned, both continued 500 steps with music-only tracks x4 (seed 42, 3,500 steps; the shipped v2 is the fine-tuned one)" \
	"shipped v2 (fine-tuned)|music_w4_s42" "scratch|scratch_music_w4_s42"
