#!/usr/bin/env bash
# Kit tuning against tom names tied to pitch (experiments/default_model_v2/variation/README.md):
# `make default-model-v2-tuned [ARGS="…"]`, after `make default-model-v2-candidate`.
# The candidate's recipe (from scratch, crnn_small, music-only tracks x4 from the start, 3,500
# steps, seeds 42 and 43 side by side) with one change: data=synth_songs_tuned, the same training
# and validation tracks on the same kits, each kit retuned per track (the toms by up to 4
# semitones, order kept; each cymbal by up to 3 on its own). Thresholds tuned and every rung scored
# on synth_songs as for every other run (the test rungs are never retuned), then one summary (and
# aims.md) beside the candidate's two seeds (data_arm in default_model_v2_common.sh): tom variation
# accuracy and the ride and crash on unseen kits are the questions, onset F on every rung the price.
# Needs ~5.6 GB for the render and ~5 GB for its feature cache. Resumable: every step skips what is
# done; WORKERS=1 renders with one process (beside trainings). Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

data_arm tuned synth_songs_tuned \
	"Kits retuned per track (synth_songs_tuned) against the candidate (synth_songs), same recipe, two seeds each" "$@"
for run in scratch_w4_s42 tuned_w4_s42; do
	for rung in "a|unseen:timgm6mb_*,unseen:avl_*" "b|unseen:h2_*,unseen:sfz_*"; do
		out=experiments/default_model_v2/tuned/variation_${rung%%|*}_$run.json
		[[ -f $out ]] || "$PY" experiments/scripts/variation_readout.py "$V2/$run" --split test --kit-names "${rung#*|}" \
			--exclude-kit-names '*+music' --max-k 1 --json "$out"
	done
done
