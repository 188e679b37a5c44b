#!/usr/bin/env bash
# The drum presence gate on every rung (experiments/default_model_v2/README.md, "Music without
# drums: the drum presence gate"): `make default-model-v2-presence`, after `make
# default-model-v2-music`. The shipped v2 (music_w4_s42) and its recipe's second seed
# (music_w4_s43), each with its own tuned thresholds (tuned without the gate), scored on every
# rung with inference.presence_confidence at its default (0.8 within 3 s: conf/inference/default.yaml)
# into RUN/presence_eval_<rung>; their reports without the gate (RUN/eval_<rung>, scored before the
# gate existed, which is inference.presence_confidence=null) beside them in one summary.
# Resumable: every rung skips what is done.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

RUNS=(music_w4_s42 music_w4_s43)
for run in "${RUNS[@]}"; do
	require $V2/$run/best.safetensors default-model-v2-music
	evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/presence_eval"
done
summary=()
for rung in "${RUNGS[@]}"; do
	name=${rung%%|*}
	[[ $name == d_* ]] && continue  # no onsets to score F on: its false onsets per minute are below
	for run in "${RUNS[@]}"; do
		summary+=("${run#music_w4_} ${name%%_*}=$V2/$run/eval_$name/metrics.json")
		summary+=("${run#music_w4_} gated ${name%%_*}=$V2/$run/presence_eval_$name/metrics.json")
	done
done
"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/presence \
	--title "The drum presence gate (0.8 within 3 s) on every rung: v2 (s42) and its recipe's seed 43, without and with" "${summary[@]}"
for run in "${RUNS[@]}"; do
	for kind in eval presence_eval; do
		grep -H -m1 "False positives per minute" "$V2/$run/${kind}_d_music_alone/report.md"
	done
done
