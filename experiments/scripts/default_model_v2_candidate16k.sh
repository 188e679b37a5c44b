#!/usr/bin/env bash
# The 16 kHz front end at the candidate's recipe (experiments/default_model_v2/README.md, "Front end"):
# `make default-model-v2-candidate16k [ARGS="…"]`, after `make default-model-v2-candidate`.
# The candidate's recipe (from scratch, crnn_small, music-only tracks x4 from the start, 3,500
# steps, seeds 42 and 43 side by side) with one change: features=logmel_16k (20 Hz-16 kHz) on
# data=synth_songs_32k, the same tracks rendered at 32 kHz. n_fft 1350 (42.2 ms) instead of
# logmel_16k's 1366: the same window to 0.5 ms, and its log-mel costs what the 11 kHz front end's (24 kHz audio)
# does (experiments/scripts/mel_fft_sizes.py). The 90-minute comparison found the 16 kHz ceiling
# ahead on the cymbals (validation PR-AUC: ride +0.13-0.15, crash +0.10-0.15) and on rungs (a)
# and (c), behind on (b); this asks it again at the size a shipped model trains. (First written
# on the hard-negative recipe; the hard negatives from step 0 lost to the candidate on every rung,
# so the one change is now made to the candidate's recipe.)
# Each arm is tuned and scored at its own rate (the 16 kHz one on synth_songs_32k's validation
# tracks and test rungs: the same tracks, kits and chains), then one summary (and aims.md), beside
# the 11 kHz candidate where its reports are at hand (SCORE_11K=1 makes them), and cases
# C07/C08/C12 for all four runs.
# Needs ~10 GB for the render and ~7 GB for its feature cache. Resumable: every step skips what
# is done; WORKERS=1 renders with one process (beside trainings). Arguments: Hydra overrides for
# both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

FEATURES=(features=logmel_16k features.n_fft=1350)
for seed in 42 43; do
	restore_run $V2/scratch_w4_s$seed
	require $V2/scratch_w4_s$seed/best.safetensors default-model-v2-candidate
done
for seed in 42 43; do restore_run $V2/candidate16k_w4_s$seed; done
# the training split only while a seed still trains (finished, only validation and test are scored)
splits=()
[[ -f $V2/candidate16k_w4_s42/best.safetensors && -f $V2/candidate16k_w4_s43/best.safetensors ]] \
	&& splits=('splits=[validation,test]')
# (both seeds tuned and scored, their reports here or stashed: no render at all)
if ! scored candidate16k_w4_s42 candidate16k_w4_s43; then
	"$PY" -m drumtx.synth data=synth_songs_32k workers="${WORKERS:-2}" "${splits[@]}"
	"$PY" -m drumtx.prepare data=synth_songs_32k "${FEATURES[@]}" "${splits[@]}"
fi
args="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=3500 data=synth_songs_32k ${FEATURES[*]}"
pair $V2/candidate16k_w4_s42 - "seed=42 $args" $V2/candidate16k_w4_s43 - "seed=43 $args" "$@"

# the 16 kHz seeds, tuned and scored on synth_songs_32k in two lanes, one core each
_lane() {  # RUN DATA
	tune "$1" "$2"
	evaluate_rungs "$V2/$1/best.safetensors" "$V2/$1/eval" "$2"
}
_two_lanes() {  # DATA RUN_A RUN_B: RUN_B in the background, RUN_A here
	local lane
	_lane "$3" "$1" &
	lane=$!
	_lane "$2" "$1"
	wait "$lane"
}
_two_lanes synth_songs_32k candidate16k_w4_s42 candidate16k_w4_s43
# the 11 kHz candidate beside them in one summary, where its rung reports are here or stashed, or with
# SCORE_11K=1 (renders synth_songs' validation and test tracks, ~1 h more on 2 cores); otherwise the
# summary holds the 16 kHz seeds alone and the candidate's own (candidate/summary.md: the same
# performances, kits and chains at 24 kHz) is the comparison
arms=()
if scored scratch_w4_s42 scratch_w4_s43; then
	arms=("11 kHz s42|scratch_w4_s42" "11 kHz s43|scratch_w4_s43")
elif [[ ${SCORE_11K:-0} == 1 ]]; then
	"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}" 'splits=[validation,test]'
	"$PY" -m drumtx.prepare data=synth_songs 'splits=[validation,test]'
	_two_lanes synth_songs scratch_w4_s42 scratch_w4_s43
	arms=("11 kHz s42|scratch_w4_s42" "11 kHz s43|scratch_w4_s43")
fi
rung_summary candidate16k \
	"The 16 kHz front end (synth_songs_32k) at the candidate's recipe, two seeds${arms:+, beside the 11 kHz candidate (synth_songs), each at its own rate}" \
	"${arms[@]}" "16 kHz s42|candidate16k_w4_s42" "16 kHz s43|candidate16k_w4_s43"
models=()
for run in scratch_w4_s42 scratch_w4_s43 candidate16k_w4_s42 candidate16k_w4_s43; do
	models+=(--model "$run=$V2/$run/best.safetensors")
done
"$PY" experiments/cases/score_models.py "${TMPDIR:-/tmp}/drumtx_cases" "${models[@]}" --only C07,C08,C12 \
	--out experiments/cases/models_candidate16k.md
