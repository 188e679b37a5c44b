#!/usr/bin/env bash
# Hard negatives for the crash (experiments/default_model_v2/README.md, "Held-out kits"):
# `make default-model-v2-hardneg [ARGS="…"]`, after `make default-model-v2-heldout`.
# Why: no threshold gives the long arm's crash v2's precision on unseen sampled kits, whose hats
# and ride its crash head takes for crashes (experiments/default_model_v2/heldout/ceiling_b.json).
# The change: loss.crash_cymbal_negative_weight=5, the crash's loss counted 5x on frames where a
# hi-hat or ride is struck without a crash (the positives already count 5x, loss.crash_pos_weight).
# As a continuation, so that the answer costs ~2 h rather than a 4.7 h training from scratch: each
# seed of the held-out arm (7,000 steps) continued from its last.ckpt by 1,000 steps with the change
# (hardneg_w4_s4x) and, as the control (the long arm's crash got worse with more steps alone),
# by the same 1,000 steps without it (heldout8k_w4_s4x); two seeds each, side by side, resumable
# across sessions with make default-model-v2-stash. All four tuned on the held-out kits as the
# held-out arm was, every rung scored on synth_songs, one summary (and aims.md) beside the held-out
# arm and v2. Arguments: Hydra overrides for all four.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}"  # the test rungs, and the tracks to link
"$PY" -m drumtx.synth data=synth_songs_heldout 'reuse=${paths.data_dir}/synth_songs' workers="${WORKERS:-2}"
"$PY" -m drumtx.prepare data=synth_songs_heldout
"$PY" -m drumtx.prepare data=synth_songs
for seed in 42 43; do  # the held-out arm's last.ckpt is needed only until a continuation has one
	restore_run $V2/heldout_w4_s$seed
	require $V2/heldout_w4_s$seed/best.safetensors default-model-v2-heldout
done
ARGS="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=8000 data=synth_songs_heldout"
HARD=loss.crash_cymbal_negative_weight=5
pair $V2/hardneg_w4_s42 $V2/heldout_w4_s42 "seed=42 $ARGS $HARD" $V2/hardneg_w4_s43 $V2/heldout_w4_s43 "seed=43 $ARGS $HARD" "$@"
pair $V2/heldout8k_w4_s42 $V2/heldout_w4_s42 "seed=42 $ARGS" $V2/heldout8k_w4_s43 $V2/heldout_w4_s43 "seed=43 $ARGS" "$@"
TUNE_DATA=synth_songs_heldout
TUNE_KITS='data.fit_kit_names=[unseen:*,none+music]'
pinned_v2
# every run of the summary scored (skipped where done: a fresh clone's stash holds bundles, not reports);
# the held-out arm's runs are tuned on the held-out kits as these are, v2 carries its own thresholds
score_lanes hardneg_w4_s42 hardneg_w4_s43 heldout8k_w4_s42 heldout8k_w4_s43 heldout_w4_s42 heldout_w4_s43 music_w4_s42
rung_summary hardneg \
	"Hard negatives for the crash (x5 on hi-hat and ride frames, 1,000 steps on from the held-out arm) against the same 1,000 steps without them, all tuned on held-out kits, and the shipped v2" \
	"v2 s42 (shipped)|music_w4_s42" "held-out 7k s42|heldout_w4_s42" "held-out 7k s43|heldout_w4_s43" \
	"held-out 8k s42|heldout8k_w4_s42" "held-out 8k s43|heldout8k_w4_s43" \
	"hard negatives 8k s42|hardneg_w4_s42" "hard negatives 8k s43|hardneg_w4_s43"
