#!/usr/bin/env bash
# Front end at an equal CPU budget (experiments/default_model_v2/README.md, "Front end"):
# `make default-model-v2-frontend [ARGS="…"]`, after `make default-model-v2-width`.
# The design's 20 Hz-11 kHz log-mel (24 kHz audio; the width comparison's crnn_small arm,
# width_small_s42) against a 16 kHz ceiling (features=logmel_16k: 32 kHz audio, same frames,
# bins and window length in time) on the same performances, kits and production chains rendered
# at 32 kHz (data=synth_songs_32k), from scratch, crnn_small, 90 minutes each. Beside the new arm,
# one core each as in the width comparison, the 11 kHz arm's second seed: the partner trained
# under the same load (width_small_s42 shared the machine with the slower crnn_medium), and with
# seed 42 the spread to read the difference against. Resumable: every step skips what is done.
# Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

require $V2/width_small_s42/best.safetensors default-model-v2-width
"$PY" -m drumtx.synth data=synth_songs_32k workers=2
"$PY" -m drumtx.prepare data=synth_songs_32k features=logmel_16k
pair $V2/frontend16k_small_s42 - "seed=42 $SCRATCH_ARM encoder=crnn_small data=synth_songs_32k features=logmel_16k" \
	$V2/width_small_s43 - "seed=43 $SCRATCH_ARM encoder=crnn_small" "$@"
# The 16 kHz arm's second seed, to the steps its first reached in its 90 minutes (1,589): a step
# budget, not wall clock, as it trained beside other jobs (the scratch recipe's continuation)
one $V2/frontend16k_small_s43 - "seed=43 ${SCRATCH_ARM/trainer.max_time=00:01:30:00 callbacks.step_budget.max_steps=null/trainer.max_time=null callbacks.step_budget.max_steps=1589} encoder=crnn_small data=synth_songs_32k features=logmel_16k" "$@"
"$PY" -m drumtx.evaluation.train_curves -o experiments/default_model_v2/frontend \
	--title "Front end: 11 kHz (24 kHz audio) against 16 kHz (32 kHz audio), crnn_small from scratch, equal time" \
	"11 kHz, seed 42=$V2/width_small_s42" "11 kHz, seed 43=$V2/width_small_s43" "16 kHz, seed 42=$V2/frontend16k_small_s42" \
	"16 kHz, seed 43=$V2/frontend16k_small_s43"
# Every rung, each arm on the test split rendered at its own rate (the same performances, kits,
# music and production chains; synth_songs is what a 24 kHz model hears of any file, since it
# resamples its input) with thresholds tuned on its own data's validation tracks like the
# recipe's runs; then the user-report cases (C12: hi-hats under snares, the issue's reason).
ARMS=("11 kHz s42|width_small_s42|synth_songs" "11 kHz s43|width_small_s43|synth_songs"
	"16 kHz s42|frontend16k_small_s42|synth_songs_32k" "16 kHz s43|frontend16k_small_s43|synth_songs_32k")
models=()
for arm in "${ARMS[@]}"; do
	IFS='|' read -r label run data <<< "$arm"
	tune "$run" "$data"
	evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/eval" "$data"
	models+=(--model "${run}=$V2/$run/best.safetensors")
done
rung_summary frontend/rungs "Front end: 11 kHz against 16 kHz (two seeds each), crnn_small from scratch, ~1,500 steps each, every rung" \
	"${ARMS[@]%|*}"
"$PY" experiments/cases/score_models.py "${TMPDIR:-/tmp}/drumtx_cases" "${models[@]}" --only C07,C08,C12 \
	--out experiments/cases/models_frontend.md
