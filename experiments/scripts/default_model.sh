#!/usr/bin/env bash
# The packaged default model and the hier_vs_flat comparison (experiments/default_model,
# experiments/hier_vs_flat): `make default-model [ARGS="…"]`. Five-branch and flat train side by
# side, one core each, for the same 45-minute budget and are compared on the test split (unseen
# kits, training kits); the five-branch run then continues from its last checkpoint to 75
# minutes, and that model is packaged into outputs/default_model_long/package/ (v1; the shipped
# model is v2 since c2f842c: copy the package into drumtx/assets/ to ship v1 again). Arguments:
# Hydra overrides for every training.
set -euo pipefail
source "$(dirname "$0")/common.sh"

DM=outputs/default_model
FLAT=outputs/hier_vs_flat_flat
DM_LONG=outputs/default_model_long

"$PY" -m drumtx.synth data=synth_gmd
"$PY" -m drumtx.prepare data=synth_gmd
train_pair "$DM" experiment=default_model "${dm_threads[@]}" "$@" \
	-- "$FLAT" experiment=hier_vs_flat_flat "${dm_threads[@]}" "$@"
"$PY" -m drumtx.tune_thresholds ckpt=$DM/best.safetensors hydra.run.dir=$DM/thresholds
"$PY" -m drumtx.tune_thresholds ckpt=$FLAT/best.safetensors hydra.run.dir=$FLAT/thresholds
"$PY" -m drumtx.evaluate ckpt=$DM/best.safetensors compare_ckpt=$FLAT/best.safetensors data=synth_gmd \
	split=test 'kit_names=[unseen:*]' out_dir=$DM/eval_unseen_kits
"$PY" -m drumtx.evaluate ckpt=$DM/best.safetensors compare_ckpt=$FLAT/best.safetensors data=synth_gmd \
	split=test 'exclude_kit_names=[unseen:*]' out_dir=$DM/eval_seen_kits
"$PY" -m drumtx.train experiment=default_model ckpt_path=$DM/checkpoints/last.ckpt trainer.max_time=00:01:15:00 \
	"${dm_threads[@]}" hydra.run.dir=$DM_LONG "$@"
"$PY" -m drumtx.tune_thresholds ckpt=$DM_LONG/best.safetensors hydra.run.dir=$DM_LONG/thresholds
"$PY" -m drumtx.evaluate ckpt=$DM_LONG/best.safetensors data=synth_gmd split=test 'kit_names=[unseen:*]' \
	out_dir=$DM_LONG/eval_unseen_kits
"$PY" -m drumtx.evaluate ckpt=$DM_LONG/best.safetensors data=synth_gmd split=test 'exclude_kit_names=[unseen:*]' \
	out_dir=$DM_LONG/eval_seen_kits
"$PY" -m drumtx.package_model $DM_LONG/best.safetensors --out $DM_LONG/package --command "make default-model  # train experiment=default_model for 45 min on one core, then resume it to 75 min (Makefile)" \
	--eval "unseen kits=$DM_LONG/eval_unseen_kits/metrics.json" --eval "training kits=$DM_LONG/eval_seen_kits/metrics.json"
