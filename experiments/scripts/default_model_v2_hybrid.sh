#!/usr/bin/env bash
# Hybrid kits against cymbals tied to one kit's sound (experiments/default_model_v2/README.md,
# "Next: hybrid kits"): `make default-model-v2-hybrid [ARGS="…"]`, after `make default-model-v2-candidate`.
# The candidate's recipe (from scratch, crnn_small, music-only tracks x4 from the start, 3,500
# steps, seeds 42 and 43 side by side) with one change: data=synth_songs_hybrid, the same training
# and validation tracks, half of them with their cymbals played on another training kit. Thresholds
# tuned and every rung scored on synth_songs as for every other run (test tracks are never hybrid),
# then one summary (and aims.md) beside the candidate's two seeds (data_arm in
# default_model_v2_common.sh): the ride and crash on unseen sampled kits are the question, onset F
# on every rung the price.
# Needs ~6.4 GB for the render and ~5 GB for its feature cache. Resumable: every step skips what is
# done; WORKERS=1 renders with one process (beside trainings). Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

data_arm hybrid synth_songs_hybrid \
	"Hybrid kits (synth_songs_hybrid: half the tracks' cymbals from another kit) against the candidate (synth_songs), same recipe, two seeds each" "$@"
