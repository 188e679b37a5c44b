#!/usr/bin/env bash
# Thresholds tuned on kits the model never heard (experiments/default_model_v2/README.md, "Held-out
# kits"): `make default-model-v2-heldout [ARGS="…"]`. The long arm's recipe (the candidate's, 7,000
# steps, seeds 42 and 43 side by side, one core each) on data=synth_songs_heldout: synth_songs less
# three training kits (h2_colombo, h2_gmrockkit, h2_hard_electro), which play only validation
# performances. Each run's thresholds are tuned on those held-out-kit tracks, with and without music,
# and the music-only validation tracks; every rung is scored on synth_songs' test split as for every
# other run; one summary beside the long arm (the same recipe with all kits trained on) and v2.
# Why: the long arm's crash, tuned on validation tracks played on its training kits, fires on unseen
# kits' hi-hats and rides (experiments/default_model_v2/long/summary.md).
# Time on the 2-core machine: render ~10 min (synth_songs' tracks are linked, not rendered again),
# prepare ~15 min, training ~4.3 h (resumable across sessions with make default-model-v2-stash),
# tuning and scoring ~30 min. Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}"  # the test rungs, and the tracks to link
"$PY" -m drumtx.synth data=synth_songs_heldout 'reuse=${paths.data_dir}/synth_songs' workers="${WORKERS:-2}"
"$PY" -m drumtx.prepare data=synth_songs_heldout
"$PY" -m drumtx.prepare data=synth_songs
heldout_arm heldout "" "$@"
# the other runs of the summary scored too (skipped where done: a fresh clone's stash holds their
# bundles, tuned by their own recipe, not their reports)
TUNE_DATA=synth_songs
TUNE_KITS=$SAMPLED_TUNE_KITS
score_lanes music_w4_s42 long_w4_s42 long_w4_s43
rung_summary heldout \
	"The long arm's recipe with three training kits held out and the thresholds tuned on them, beside the long arm and the shipped v2" \
	"v2 s42 (shipped)|music_w4_s42" "7k s42|long_w4_s42" "7k s43|long_w4_s43" \
	"held-out s42|heldout_w4_s42" "held-out s43|heldout_w4_s43"
