#!/usr/bin/env bash
# Encoder width at an equal CPU budget (experiments/default_model_v2/README.md, "Encoder width"):
# `make default-model-v2-width [ARGS="…"]`.
# crnn_small (the shipped width) against crnn_medium (every width doubled), both from scratch
# (the wider one cannot start from v1's weights), seed 42, side by side with one core each and the
# same wall-clock budget (trainer.max_time, validation included). 100-step epochs and 48
# validation tracks give each arm a validation curve; callbacks.train_clock logs each point's
# training seconds (time/train_seconds), so the arms are compared at equal training time.
# Resumable: rerun to continue both from their last.ckpt (Lightning keeps the time used).
# Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

pair $V2/width_small_s42 - "seed=42 $SCRATCH_ARM encoder=crnn_small" \
	$V2/width_medium_s42 - "seed=42 $SCRATCH_ARM encoder=crnn_medium" "$@"
"$PY" -m drumtx.bench_models --encoders crnn_small crnn_medium --branches five_branch --batch-size 16 --threads 1 \
	--min-time 8 --out experiments/default_model_v2/width/bench_models.json
