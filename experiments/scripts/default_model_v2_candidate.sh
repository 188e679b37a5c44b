#!/usr/bin/env bash
# The candidate to replace v2 (experiments/default_model_v2/README.md, "The candidate: from scratch,
# music from the start"): `make default-model-v2-candidate [ARGS="…"]`, after `make
# default-model-v2-music`. Two findings combined into one recipe trained from its first step:
#   - from scratch with the hit prior beat fine-tuning from v1 at 3,000 steps on every unseen rung
#     (make default-model-v2-scratch), but false onsets on music alone stayed high;
#   - music-only tracks served 4x as often halved those false onsets in 500 steps
#     (make default-model-v2-music; the shipped v2 had them only for its last 500 steps).
# So: crnn_small from scratch, data.train_kit_weights={none+music:4} from the start, the shipped
# v2's 3,500 steps, seeds 42 and 43 side by side (one core each; ~3.7 h on the 2-core machine);
# then each tuned and scored on every rung (two lanes, one core each), and one summary beside both seeds of the shipped
# recipe (music_w4_s42 = v2, music_w4_s43). It replaces v2 only if it beats it on every rung,
# music alone included: shipping is a separate, deliberate step (ship in default_model_v2_common.sh).
# Resumable: every step skips what is done. Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

# the data first, every split: the feature cache's folder is named by the dataset csv's hash, so
# a test split rendered after the trainings would make it prepare every training track again;
# everything skips what is on disk, so a fresh checkout rebuilds what it lacks
"$PY" -m drumtx.synth data=synth_songs
"$PY" -m drumtx.prepare data=synth_songs
ARGS="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=3500"
# (unfinished runs come back from the stash of make default-model-v2-stash: train_args)
pair $V2/scratch_w4_s42 - "seed=42 $ARGS" $V2/scratch_w4_s43 - "seed=43 $ARGS" "$@"
pinned_v2
# the shipped recipe's second seed, where this checkout has it (its weights are in no commit: it
# was trained before runs were stashed; its scores are in experiments/default_model_v2/seeds)
arms=("v2 s42 (shipped)|music_w4_s42")
runs=(music_w4_s42 scratch_w4_s42 scratch_w4_s43)
if [[ -f $V2/music_w4_s43/best.safetensors ]]; then arms+=("v2 recipe s43|music_w4_s43"); runs+=(music_w4_s43); fi
arms+=("candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43")
# two lanes: v1 and the shipped v2 in one, the candidate's seeds tuned and scored in the other
score_lanes "${runs[@]}"
rung_summary candidate \
	"The candidate (from scratch, music-only tracks x4 from the start, 3,500 steps) against the shipped recipe (fine-tuned from v1, music x4 for its last 500 of 3,500 steps)" \
	"${arms[@]}"
