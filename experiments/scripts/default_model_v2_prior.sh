#!/usr/bin/env bash
# The hit prior's ablation (experiments/default_model_v2/README.md, "The hit prior (from scratch)"):
# `make default-model-v2-prior`, after `make default-model-v2-width`.
# The width comparison's crnn_small arm (width_small_s42: from scratch, branches.hit_prior=0.01)
# again for its first 300 steps with branches.hit_prior=null (PyTorch's default output biases),
# everything else the same (seed, schedule, data order), and both curves side by side.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

require $V2/width_small_s42/best.safetensors default-model-v2-width
one $V2/prior_null_small_s42 - "seed=42 $SCRATCH_ARM encoder=crnn_small branches.hit_prior=null trainer.max_time=null callbacks.step_budget.max_steps=300"
"$PY" -m drumtx.evaluation.train_curves -o experiments/default_model_v2/prior --x step \
	--title "Output biases from scratch: hit prior 0.01 against PyTorch's default (crnn_small, seed 42)" \
	"hit prior 0.01=$V2/width_small_s42" "default biases=$V2/prior_null_small_s42"
