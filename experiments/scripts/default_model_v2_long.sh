#!/usr/bin/env bash
# The candidate trained twice as long (experiments/default_model_v2/README.md, "The candidate,
# twice as long"): `make default-model-v2-long [ARGS="…"]`, after `make default-model-v2-candidate`.
# Its validation PR-AUC still rose by 0.02-0.03 per 500 steps at 3,000 steps (both seeds), and the
# schedule (warm-up, then halving on a plateau) has no end tied to the budget, so each seed's
# 3,500-step run is continued from its last.ckpt to 7,000 steps with the same recipe (long_w4_s42,
# long_w4_s43; side by side, one core each: ~2.5 h on the 2-core machine, resumable across sessions
# with make default-model-v2-stash); then each tuned and scored on every rung (two lanes) and one
# summary beside the candidate's seeds and the shipped v2. Arguments: Hydra overrides for both.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

"$PY" -m drumtx.synth data=synth_songs
"$PY" -m drumtx.prepare data=synth_songs
STEPS=7000
ARGS="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=$STEPS"
for seed in 42 43; do  # the candidate's last.ckpt is needed only until its continuation has one
	restore_run $V2/long_w4_s$seed
	[[ -f $V2/long_w4_s$seed/checkpoints/last.ckpt || -f $V2/long_w4_s$seed/best.safetensors ]] && continue
	restore_run $V2/scratch_w4_s$seed
	require $V2/scratch_w4_s$seed/checkpoints/last.ckpt default-model-v2-candidate
done
pair $V2/long_w4_s42 $V2/scratch_w4_s42 "seed=42 $ARGS" $V2/long_w4_s43 $V2/scratch_w4_s43 "seed=43 $ARGS" "$@"
# every run of the summary scored (skipped where done; a fresh clone has only the stashed bundles)
pinned_v2
score_lanes music_w4_s42 scratch_w4_s42 scratch_w4_s43 long_w4_s42 long_w4_s43
rung_summary long \
	"The candidate at 7,000 steps against itself at 3,500 and the shipped v2 (fine-tuned from v1, music x4 for its last 500 of 3,500 steps)" \
	"v2 s42 (shipped)|music_w4_s42" "candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43" \
	"7k s42|long_w4_s42" "7k s43|long_w4_s43"
