#!/usr/bin/env bash
# Music without drums (experiments/default_model_v2/README.md, "Music without drums"):
# `make default-model-v2-music [ARGS="…"]`, after `make default-model-v2`.
# The shipped run (finetune_s42_long, 3,000 steps) continued by 500 steps two ways, one core each:
#   music_w4_s42   data.train_kit_weights='{none+music:4}': music-only tracks (1.4 of the 48.5
#                  training hours) served 4x as often;
#   long_s42_3500  the same 500 steps without weights: the control (more steps alone also cut
#                  false onsets: 1,000 -> 3,000 steps took music alone from 176 to 107 per minute);
# and seed 43's 3,000-step run continued with the weighting (the shipped recipe's second seed);
# then each tuned and scored on every rung like the recipe's runs, and one summary.
# The music-weighted run is shipped as v2 (ship: summary against v1, synth_gmd, package): on the
# test rungs it halves the false onsets on music alone against the control and the 3,000-step run,
# at no loss of overall F (experiments/default_model_v2/README.md). Resumable like the recipe.
# Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

STEPS=3500
FROM=$V2/finetune_s42_long
require $FROM/checkpoints/last.ckpt default-model-v2
pair $V2/music_w4_s42 "$FROM" "seed=42 callbacks.step_budget.max_steps=$STEPS data.train_kit_weights={none+music:4}" \
	$V2/long_s42_3500 "$FROM" "seed=42 callbacks.step_budget.max_steps=$STEPS" "$@"
# the shipped recipe's second seed: seed 43's 3,000-step run continued the same way
require $V2/finetune_s43_long/checkpoints/last.ckpt default-model-v2
one $V2/music_w4_s43 $V2/finetune_s43_long "seed=43 callbacks.step_budget.max_steps=$STEPS data.train_kit_weights={none+music:4}" "$@"
RUNS=(finetune_s42_long long_s42_3500 music_w4_s42 music_w4_s43)
for run in "${RUNS[@]}"; do
	tune "$run"
	score "$run"
done
rung_summary music \
	"Music without drums: seed 42 at 3,000 steps, continued to 3,500 without and with music-only tracks x4; seed 43 with them" \
	"3k|finetune_s42_long" "3.5k|long_s42_3500" "3.5k music x4|music_w4_s42" "s43 3.5k music x4|music_w4_s43"
ship $V2/music_w4_s42 "make default-model-v2 && make default-model-v2-music  # the 3,000-step run continued to 3,500 steps with data.train_kit_weights={none+music:4}"
