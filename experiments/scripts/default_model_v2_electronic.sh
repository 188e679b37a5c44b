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
pinned_v2  # the shipped v2 from its commit, where a fresh checkout lacks it: the ship rule's reference
ARMS=("v2 s42 (shipped)|music_w4_s42" "candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43"
	"electronic s42|electronic_w4_s42" "electronic s43|electronic_w4_s43")
rung_e electronic "${ARMS[@]}"
models=()
for arm in "${ARMS[@]}"; do
	models+=(--model "${arm#*|}=$V2/${arm#*|}/best.safetensors")
done
"$PY" experiments/cases/score_models.py "${TMPDIR:-/tmp}/drumtx_cases" "${models[@]}" --only C08 \
	--out experiments/cases/models_electronic.md
