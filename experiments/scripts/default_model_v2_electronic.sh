#!/usr/bin/env bash
# Synthesised drum machines in training (experiments/default_model_v2/README.md, "Synthesised
# electronic kits"): `make default-model-v2-electronic [ARGS="…"]`, after
# `make default-model-v2-candidate` (its stash suffices on a fresh clone).
# Why: C08's numpy 808/909 kit gets invented toms from the shipped v2, most on swept-sine kicks,
# and only four sampled electronic kits are in training.
# The change (one, the data): data=synth_songs_electronic, synth_songs' 27 training kits plus the
# eight drum machines of conf/kits/electronic.yaml (gen_e01..gen_e08). The candidate's recipe on it,
# seeds 42 and 43 side by side (data_arm: tuned and scored on synth_songs' rungs beside the
# candidate), then a rung of its own, (e): GMD's test performances on the two test-only drum
# machines (gen_t01, gen_t02), drum-only and with music, for the shipped v2, the arm and the
# candidate; then the user-report case C08 (a numpy 808/909 kit) for all three. Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

data_arm electronic synth_songs_electronic \
	"Eight synthesised drum machines in training (synth_songs_electronic) against the candidate (synth_songs), same recipe, two seeds each" "$@"
# rung (e): unseen drum machines, on synth_songs_electronic's test split (rendered by data_arm's
# first step, or here where both seeds were trained elsewhere: nothing to do when it is on disk);
# each model with its own tuned thresholds, as on every rung (evaluate_rungs reads RUNGS:
# synth_songs' rungs are done by now, so they make way for this recipe's own)
"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}" 'splits=[test]'
"$PY" -m drumtx.prepare data=synth_songs_electronic 'splits=[test]'
RUNGS=("e_unseen_drum_machines|kit_names=[unseen:gen_t*]|exclude_kit_names=[*+music]"
	"e_unseen_drum_machines_with_music|kit_names=[unseen:gen_t*+music]")
pinned_v2  # the shipped v2 from its commit, where a fresh checkout lacks it: the ship rule's reference
ARMS=("v2 s42 (shipped)|music_w4_s42" "candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43"
	"electronic s42|electronic_w4_s42" "electronic s43|electronic_w4_s43")
summary=()
models=()
for arm in "${ARMS[@]}"; do
	run=${arm#*|}
	evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/eval" synth_songs_electronic
	for rung in "${RUNGS[@]%%|*}"; do
		summary+=("${arm%%|*} ${rung#e_unseen_}=$V2/$run/eval_$rung/metrics.json")
	done
	models+=(--model "$run=$V2/$run/best.safetensors")
done
"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/electronic/rung_e \
	--title "Rung (e): two drum machines no model trained on (gen_t01, gen_t02), drum-only and with music" "${summary[@]}"
"$PY" experiments/cases/score_models.py "${TMPDIR:-/tmp}/drumtx_cases" "${models[@]}" --only C08 \
	--out experiments/cases/models_electronic.md
