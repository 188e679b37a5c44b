#!/usr/bin/env bash
# Ship the crash taught by v2 on sound-font and sampled kits (experiments/default_model_v2/README.md,
# "Result: the crash taught on sampled kits too…"): `make default-model-v2-distil-ship`, after
# `DISTIL_WEIGHT=80 DISTIL_SAMPLED=1 make default-model-v2-distil` (its stash suffices on a fresh
# clone). Both seeds of that arm pass v2 on every cell of the ship rule (ship_rows.py); the seed
# shipped is the one with the higher validation PR-AUC at its bundle (s43 0.663, s42 0.655), a rule
# set down before its rungs (b)-(d) were read (2026-12-07).
# Steps, each skipped when done: the run restored from the stash; the drum presence gate v2 ships
# (0.8 within 3 s over kick, snare, hi-hat, ride) scored on every rung for this model
# (RUN/presence_eval_<rung>, summarised beside the ungated reports in
# experiments/default_model_v2/distil80sampled/presence); then `ship` (default_model_v2_common.sh):
# v1 against it on every rung and on synth_gmd's test split (rendered for it), and the bundle
# packaged as drumtx/assets/default_model.* with that gate and this command on its card.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

RUN=${SHIP_RUN:-distil80sampled_w4_s43}
GATE=(inference.presence_confidence=0.8 inference.presence_seconds=3.0 'inference.presence_instruments=[kick,snare,hihat,ride]')
OUT=experiments/default_model_v2/distil80sampled
restore_run "$V2/$RUN"
require "$V2/$RUN/best.safetensors" "default-model-v2-distil (DISTIL_WEIGHT=80 DISTIL_SAMPLED=1)"
pinned_v2
"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}" 'splits=[validation,test]'
"$PY" -m drumtx.prepare data=synth_songs 'splits=[validation,test]'
evaluate_rungs "$V2/$RUN/best.safetensors" "$V2/$RUN/presence_eval" synth_songs "${GATE[@]}"
summary=()
for rung in "${RUNGS[@]}"; do
	name=${rung%%|*}
	[[ $name == d_* ]] && continue  # no onsets to score F on: its false onsets per minute are below
	summary+=("${RUN} ${name%%_*}=$V2/$RUN/eval_$name/metrics.json" "${RUN} gated ${name%%_*}=$V2/$RUN/presence_eval_$name/metrics.json")
done
"$PY" -m drumtx.evaluation.summary -o "$OUT/presence" \
	--title "The drum presence gate (0.8 within 3 s) on every rung for $RUN, without and with" "${summary[@]}"
mkdir -p "$OUT/presence"
for kind in eval presence_eval; do
	grep -H -m1 "False positives per minute" "$V2/$RUN/${kind}_d_music_alone/report.md"
done > "$OUT/presence/music_alone.txt"
cat "$OUT/presence/music_alone.txt" 
ship "$V2/$RUN" "DISTIL_WEIGHT=80 DISTIL_SAMPLED=1 make default-model-v2-distil && make default-model-v2-distil-ship  # the electronic arm at 7,000 steps fine-tuned 800 steps with v2 teaching its crash on sound-font and sampled kits (weight 80)" \
	--presence 0.8 --presence-seconds 3 --presence-source "experiments/default_model_v2/distil80sampled/presence/summary.md"
