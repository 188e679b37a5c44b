#!/usr/bin/env bash
# The shipped v2 warm-started on the electronic arm's data (experiments/default_model_v2/README.md,
# "Next: warm start from the shipped v2"): `make default-model-v2-warm [ARGS="…"]`, after
# `make default-model-v2-electronic-long` (its stash suffices on a fresh clone: both seeds' bundles
# and reports, the arms this one is set beside).
# Why: every from-scratch arm that beats v2 on overall F loses v2's crash on the unseen sound-font
# kits (electronic 7k: crash F 33 / 48 on rung (a) against 62, precision 74 / 81 % against 89 %);
# v2 heard sound-font crashes for all of v1's training and kept them. The change: start from v2's
# weights (its pinned bundle, init_weights=…/music_w4_s42/best.safetensors) instead of from
# scratch, at the project's fine-tuning rate (optimizer.lr=3e-4, experiment=finetune_default's),
# for 1,200 steps; else the electronic arm's recipe (music-only tracks x4, 100-step epochs, 48
# validation tracks, data=synth_songs_electronic; seeds 42 and 43 side by side, one core each:
# ~1.8 h on the 2-core machine, resumable across sessions with make default-model-v2-stash). The
# question: does v2's crash survive while the rest moves toward the electronic arm's? Then each
# tuned and scored on every rung (two lanes), rung (e), and one summary (and aims.md) beside v2 and
# the electronic arm at 7,000 steps. Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

ARGS="${CANDIDATE_RECIPE/init_weights=null/init_weights=$V2/music_w4_s42/best.safetensors} optimizer.lr=3e-4"
beside_arm warm warm electronic_long "electronic 7k" "$ARGS callbacks.step_budget.max_steps=1200 data=synth_songs_electronic" \
	"The shipped v2 warm-started on synth_songs_electronic (1,200 steps, lr 3e-4) against v2 and the electronic arm at 7,000 steps" "$@"
