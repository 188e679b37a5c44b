#!/usr/bin/env bash
# Hybrid kits against cymbals tied to one kit's sound (experiments/default_model_v2/README.md,
# "Next: hybrid kits"): `make default-model-v2-hybrid [ARGS="…"]`, after `make default-model-v2-candidate`.
# The candidate's recipe (from scratch, crnn_small, music-only tracks x4 from the start, 3,500
# steps, seeds 42 and 43 side by side) with one change: data=synth_songs_hybrid, the same training
# and validation tracks, half of them with their cymbals played on another training kit. Thresholds
# tuned and every rung scored on synth_songs as for every other run (test tracks are never hybrid),
# then one summary (and aims.md) beside the candidate's two seeds: the ride and crash on unseen
# sampled kits are the question, onset F on every rung the price.
# Needs ~6 GB for the render and ~5 GB for its feature cache. Resumable: every step skips what is
# done; WORKERS=1 renders with one process (beside trainings). Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

"$PY" -m drumtx.synth data=synth_songs_hybrid workers="${WORKERS:-2}"
"$PY" -m drumtx.prepare data=synth_songs_hybrid
for seed in 42 43; do  # the candidate's bundles come back from the stash on a fresh clone
	restore_run $V2/scratch_w4_s$seed
	require $V2/scratch_w4_s$seed/best.safetensors default-model-v2-candidate
done
ARGS="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=3500 data=synth_songs_hybrid"
pair $V2/hybrid_w4_s42 - "seed=42 $ARGS" $V2/hybrid_w4_s43 - "seed=43 $ARGS" "$@"
# every run is tuned and scored on synth_songs: on a fresh clone it is rendered and prepared here,
# after the trainings (they need only synth_songs_hybrid); on a checkout that has it, both skip
"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}"
"$PY" -m drumtx.prepare data=synth_songs
score_lanes hybrid_w4_s42 hybrid_w4_s43 scratch_w4_s42 scratch_w4_s43  # two lanes, one core each (a fresh clone's stash holds no reports)
rung_summary hybrid \
	"Hybrid kits (synth_songs_hybrid: half the tracks' cymbals from another kit) against the candidate (synth_songs), same recipe, two seeds each" \
	"candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43" "hybrid s42|hybrid_w4_s42" "hybrid s43|hybrid_w4_s43"
