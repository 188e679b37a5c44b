#!/usr/bin/env bash
# Loss-weight sweep on a CPU (experiments/sweep_loss_weights_finetune): `make sweep-finetune
# [ARGS="…"] [FT_SEEDS="43 44"]`. Every trial fine-tunes the packaged model for 240 steps
# (experiment=finetune_default) with other weights for the rarer heads
# (hparams_search=loss_weights_finetune); two workers, one core each, share one Optuna study whose
# first trial is the design's weights. Then the design's and the best trial's weights are rerun
# with other seeds (FT_SEEDS), and the report judges the best against that seed spread.
# Arguments: Hydra overrides for the sweep workers.
set -euo pipefail
source "$(dirname "$0")/common.sh"

FT=outputs/sweep_finetune
FT_SWEEP=multirun/loss_weights_finetune
FT_STUDY=loss_weights_finetune
FT_RUN=(experiment=finetune_default "${dm_threads[@]}")
FT_DESIGN=(loss.tom_primary=1.0 loss.tom_variation=0.7 loss.cymbal_variation=0.5 loss.crash=0.6)
read -r -a ft_seeds <<< "${FT_SEEDS:-43 44}"

"$PY" -m drumtx.synth data=synth_gmd
"$PY" -m drumtx.prepare data=synth_gmd
mkdir -p $FT_SWEEP
pids=()
for w in w1 w2; do
	"$PY" -m drumtx.train -m "${FT_RUN[@]}" hparams_search=$FT_STUDY hydra.sweep.dir=$FT_SWEEP/$w "$@" \
		> $FT_SWEEP/$w.log 2>&1 & pids+=($!)
	sleep 30
done
for p in "${pids[@]}"; do
	wait "$p" || { echo "a sweep worker failed: see $FT_SWEEP/w*.log"; exit 1; }
done
best="$("$PY" -m drumtx.evaluation.sweep_report --study $FT_STUDY --print-best)"
# its overrides, split on any white space (newlines too), never glob-expanded
read -r -d '' -a best_weights <<< "$best" || true  # read -d '' returns 1 at the end of its input
for s in "${ft_seeds[@]}"; do
	train_pair $FT/design_seed$s "${FT_RUN[@]}" "${FT_DESIGN[@]}" seed=$s \
		-- $FT/best_seed$s "${FT_RUN[@]}" "${best_weights[@]}" seed=$s
done
report_runs=()
for s in "${ft_seeds[@]}"; do
	report_runs+=(--baseline-run "seed $s=$FT/design_seed$s/metrics.json" --best-run "seed $s=$FT/best_seed$s/metrics.json")
done
"$PY" -m drumtx.evaluation.sweep_report --study $FT_STUDY -o $FT/report --title "Loss-weight sweep, fine-tuning the default model" \
	"${report_runs[@]}"
