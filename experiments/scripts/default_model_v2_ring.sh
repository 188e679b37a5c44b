#!/usr/bin/env bash
# Cymbals that ring long and dark (experiments/cymbal_samples/README.md):
# `make default-model-v2-ring [ARGS="…"]`, after `make default-model-v2-candidate`.
# The candidate's recipe (from scratch, crnn_small, music-only tracks x4 from the start, 3,500
# steps, seeds 42 and 43 side by side) with one change: data=synth_songs_ring, the same training
# and validation tracks on the same kits, half of them with the cymbal stem ringing on (RT60
# 2-12 s) and darker (a high shelf of up to -12 dB). Thresholds tuned and every rung scored on
# synth_songs as for every other run (the test rungs never ring on), then one summary (and
# aims.md) beside the candidate's two seeds (data_arm in default_model_v2_common.sh): the crash's
# precision on the unseen sampled kits (h2_forzee_stereo above all) is the question, onset F on
# every rung the price. Needs ~5.6 GB for the render and ~5 GB for its feature cache; a checkout
# with a synth_songs render links the tracks drawn no ring from it. Resumable: every step skips
# what is done; WORKERS=1 renders with one process (beside trainings). Arguments: Hydra overrides
# for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

data_arm ring synth_songs_ring \
	"Cymbals ringing long and dark on half the tracks (synth_songs_ring) against the candidate (synth_songs), same recipe, two seeds each" "$@"
