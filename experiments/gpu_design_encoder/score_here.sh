#!/usr/bin/env bash
# After device_run.sh (experiments/gpu_design_encoder/README.md): the bundles the GPU machine brought
# back, joined into outputs/gpu_design_encoder/<run>/best.safetensors with their best.json, are tuned
# and scored on this machine, where the test-only kits' samples are (ForzeeStereo alone is 156 MB):
# data=synth_sampled's validation and test tracks rendered here (the same plan and seeds as there),
# each GPU run's thresholds tuned on the validation tracks (the 11 training kits, drum-only), then
# every GPU run, the CPU candidate's two seeds (outputs/default_model_v2/scratch_w4_s4x, as
# `make default-model-v2-candidate` left them: tuned on synth_songs) and the shipped v2 scored on the
# test-only kits (the realism ladder's rung (b) kits, drum-only), in two lanes of one thread each.
# Summary: experiments/gpu_design_encoder/summary.md. Every step skips what is done. Run from the
# repository root: bash experiments/gpu_design_encoder/score_here.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
D=outputs/gpu_design_encoder
V2=outputs/default_model_v2
GPU_RUNS=(crnn_s42 crnn_small_s42 crnn_s43 crnn_small_s43)
for r in "${GPU_RUNS[@]}"; do
	[[ -f $D/$r/best.safetensors ]] || { echo "$D/$r/best.safetensors: missing (join the parts device_run.sh returned)" >&2; exit 1; }
done
"$PY" -m drumtx.synth data=synth_sampled workers="${WORKERS:-2}" progress=false 'splits=[validation,test]'
"$PY" -m drumtx.prepare data=synth_sampled

tune() {  # RUN
	[[ -f $D/$1/thresholds/done ]] && return
	"$PY" -m drumtx.tune_thresholds ckpt="$D/$1/best.safetensors" data=synth_sampled torch_threads=1 \
		hydra.run.dir="$D/$1/thresholds" > "$D/$1/tune.log" 2>&1 \
		|| { echo "tuning $1 failed: see $D/$1/tune.log" >&2; return 1; }
	touch "$D/$1/thresholds/done"
}
score() {  # NAME BUNDLE
	[[ -f $D/eval_$1/metrics.json ]] && return
	"$PY" -m drumtx.evaluate ckpt="$2" data=synth_sampled split=test 'kit_names=[unseen:*]' torch_threads=1 \
		out_dir="$D/eval_$1" > "$D/eval_$1.log" 2>&1 \
		|| { echo "scoring $1 failed: see $D/eval_$1.log" >&2; return 1; }
}
lane() {  # RUN...: tune and score GPU runs; NAME=BUNDLE: score only
	local r
	for r in "$@"; do
		if [[ $r == *=* ]]; then score "${r%%=*}" "${r#*=}"; else tune "$r" && score "$r" "$D/$r/best.safetensors"; fi
	done
}
lane crnn_s42 crnn_small_s43 "cpu_candidate_s42=$V2/scratch_w4_s42/best.safetensors" "v2=drumtx/assets/default_model.safetensors" &
other=$!
lane crnn_s43 crnn_small_s42 "cpu_candidate_s43=$V2/scratch_w4_s43/best.safetensors"
wait $other

args=()
for name in crnn_s42 crnn_s43 crnn_small_s42 crnn_small_s43 cpu_candidate_s42 cpu_candidate_s43 v2; do
	args+=("$name=$D/eval_$name/metrics.json")
done
"$PY" -m drumtx.evaluation.summary -o experiments/gpu_design_encoder \
	--title "Design-size encoder (GPU) against crnn_small (GPU, same data and wall clock) and the CPU candidate, unseen sampled kits (rung b kits), drum-only" \
	"${args[@]}"
