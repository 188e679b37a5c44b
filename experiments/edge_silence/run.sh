#!/usr/bin/env bash
# Silence at the track's edges (inference.edge_silence_seconds; experiments/edge_silence/README.md):
#   bash experiments/edge_silence/run.sh [SECONDS...]     (default: 0 1.5 3)
# The shipped model (v2, pinned from git) scored on rung (e), two drum machines no model trained on
# (synth_songs_electronic's test split, drum-only: 318 tracks, 104 of them fills of 1-7 s), once
# per edge silence; then one table (overall onset P / R / F, grooves and fills apart) into
# experiments/edge_silence/results.md. Each evaluation is skipped when its report exists.
# Needs synth_songs_electronic's test split (rendered and prepared here when missing).
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
source "$(dirname "$0")/../scripts/default_model_v2_common.sh"

[[ $# -gt 0 ]] || set -- 0 1.5 3
OUT=outputs/edge_silence
"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}" 'splits=[test]'
"$PY" -m drumtx.prepare data=synth_songs_electronic 'splits=[test]'
pinned_v2
reports=()
for s in "$@"; do
	out=$OUT/v2_edge_$s
	if [[ ! -f $out/metrics.json ]]; then
		"$PY" -m drumtx.evaluate ckpt=$V2/music_w4_s42/best.safetensors data=synth_songs_electronic split=test \
			'kit_names=[unseen:gen_t*]' 'exclude_kit_names=[*+music]' "inference.edge_silence_seconds=$s" \
			out_dir="$out" torch_threads=1
	fi
	reports+=("$s=$out/metrics.json")
done
"$PY" "$(dirname "$0")/table.py" "${reports[@]}" | tee experiments/edge_silence/results.md
