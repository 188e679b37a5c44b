#!/usr/bin/env bash
# Silence at the track's edges (inference.edge_silence_seconds; experiments/edge_silence/README.md):
#   bash experiments/edge_silence/run.sh [SECONDS...]     (default: 0 1.5 3)
# The shipped model (v2, pinned from git) scored once per edge silence on two sets of
# synth_songs_electronic: its test split's drum-only tracks, rung (e), two drum machines no model
# trained on (318 tracks, 104 of them fills of 1-7 s), and its validation split (326 tracks:
# sound-font, sampled and synthesised kits, drum-only and with music, and music alone; held-out
# performances). Then one table per set (onset P / R / F, grooves and fills apart) into
# experiments/edge_silence/results.md. Each evaluation is skipped when its report exists.
# Needs synth_songs_electronic (rendered and prepared here when missing).
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
source "$(dirname "$0")/../scripts/default_model_v2_common.sh"

[[ $# -gt 0 ]] || set -- 0 1.5 3
OUT=outputs/edge_silence
SETS=("test|rung (e): unseen drum machines, drum-only|kit_names=[unseen:gen_t*]|exclude_kit_names=[*+music]"
	"validation|validation: every kit family, with and without music, music alone")
"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}" 'splits=[validation,test]'
"$PY" -m drumtx.prepare data=synth_songs_electronic 'splits=[validation,test]'
pinned_v2
: > experiments/edge_silence/results.md.tmp
for set_ in "${SETS[@]}"; do
	IFS='|' read -r -a g <<< "$set_"
	reports=()
	for s in "$@"; do
		out=$OUT/v2_${g[0]}_edge_$s
		if [[ ! -f $out/metrics.json ]]; then
			"$PY" -m drumtx.evaluate ckpt=$V2/music_w4_s42/best.safetensors data=synth_songs_electronic \
				split="${g[0]}" "${g[@]:2}" "inference.edge_silence_seconds=$s" out_dir="$out" torch_threads=1
		fi
		reports+=("$s=$out/metrics.json")
	done
	{ echo "#### ${g[1]}"; echo; "$PY" "$(dirname "$0")/table.py" "${reports[@]}"; echo; } >> experiments/edge_silence/results.md.tmp
done
mv experiments/edge_silence/results.md.tmp experiments/edge_silence/results.md
cat experiments/edge_silence/results.md
