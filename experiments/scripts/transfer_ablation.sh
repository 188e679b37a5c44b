#!/usr/bin/env bash
# Transfer ablations (experiments/transfer_ablation): `make transfer-ablation`, after
# `make default-model` (their reference is its 45-minute five-branch run): each arm takes one
# transfer choice away from that run and trains for exactly its 1,318 steps, two arms side by
# side; a rerun of the reference with another seed shows how far two runs differ by chance. Each
# is tuned on its own validation split and evaluated on the unseen kits, and one summary lines
# them up. Takes no arguments.
set -euo pipefail
source "$(dirname "$0")/common.sh"

DM=outputs/default_model
AB=outputs/ablation
AB_RUN=(experiment=default_model callbacks.step_budget.max_steps=1318 trainer.max_time=null "${dm_threads[@]}")
AB_ARMS=(aug_none kits_fluidr3_only room_eq_none seed43)

"$PY" -m drumtx.synth data=synth_gmd_dry
"$PY" -m drumtx.prepare data=synth_gmd_dry
train_pair $AB/aug_none "${AB_RUN[@]}" augmentation=none -- $AB/kits_fluidr3_only "${AB_RUN[@]}" 'data.fit_kit_names=[fluidr3_*]'
train_pair $AB/room_eq_none "${AB_RUN[@]}" data=synth_gmd_dry -- $AB/seed43 "${AB_RUN[@]}" seed=43
for arm in "${AB_ARMS[@]}"; do
	"$PY" -m drumtx.tune_thresholds ckpt=$AB/$arm/best.safetensors hydra.run.dir=$AB/$arm/thresholds
	"$PY" -m drumtx.evaluate ckpt=$AB/$arm/best.safetensors data=synth_gmd split=test 'kit_names=[unseen:*]' \
		out_dir=$AB/$arm/eval_unseen_kits
done
"$PY" -m drumtx.evaluation.summary -o $AB/summary --title "Transfer ablation, unseen kits" \
	"all choices (seed 42)=$DM/eval_unseen_kits/metrics.json" \
	"no SpecAugment or gain=$AB/aug_none/eval_unseen_kits/metrics.json" \
	"FluidR3 kits only=$AB/kits_fluidr3_only/eval_unseen_kits/metrics.json" \
	"no room or EQ=$AB/room_eq_none/eval_unseen_kits/metrics.json" \
	"all choices, seed 43=$AB/seed43/eval_unseen_kits/metrics.json"
