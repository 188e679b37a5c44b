#!/usr/bin/env bash
# Score models on the band-limited test tracks of rungs.py, through the transcription pipeline:
#   bash experiments/band_limit/rungs.sh WORK OUT NAME=BUNDLE [NAME=BUNDLE ...]
# WORK: rungs.py's folder (one sub-folder per rate); OUT: a report per model and rate
# (OUT/<NAME>_<rate>, drumtx.evaluate's), then one summary per model across the rates and one per
# rate across the models (drumtx.evaluation.summary). BUNDLE "default" is the packaged model as
# shipped (its thresholds and drum presence gate); any other bundle is scored with its own tuned
# thresholds (its sidecar) and the gate v2.1 ships (0.8 within 3 s over kick, snare, hi-hat,
# ride), so a run compares with the packaged model as it would ship. Reports already written are
# kept (rerun to finish). PY: the interpreter (default python).
set -euo pipefail
PY=${PY:-python}
work=$1 out=$2
shift 2
GATE=(inference.presence_confidence=0.8 inference.presence_seconds=3.0 'inference.presence_instruments=[kick,snare,hihat,ride]')
rates=()
for dir in "$work"/*/; do rates+=("$(basename "$dir")"); done
IFS=$'\n' rates=($(printf '%s\n' "${rates[@]}" | sort -rn)); unset IFS
names=()
for spec in "$@"; do
	name=${spec%%=*} ckpt=${spec#*=}
	names+=("$name")
	extra=()
	[[ $ckpt == default ]] || extra=("${GATE[@]}")
	for rate in "${rates[@]}"; do
		[[ -f $out/${name}_$rate/metrics.json ]] && continue
		"$PY" -m drumtx.evaluate source=midi_folder external.audio_dir="$work/$rate" external.note_map=roland_td17 \
			ckpt="$ckpt" out_dir="$out/${name}_$rate" torch_threads=1 "${extra[@]}"
	done
done
for name in "${names[@]}"; do
	reports=()
	for rate in "${rates[@]}"; do reports+=("$name $rate Hz=$out/${name}_$rate/metrics.json"); done
	"$PY" -m drumtx.evaluation.summary -o "$out/summary_$name" --title "$name at each sample rate" "${reports[@]}"
done
for rate in "${rates[@]}"; do
	reports=()
	for name in "${names[@]}"; do reports+=("$name=$out/${name}_$rate/metrics.json"); done
	"$PY" -m drumtx.evaluation.summary -o "$out/summary_$rate" --title "Files sampled at $rate Hz" "${reports[@]}"
done
