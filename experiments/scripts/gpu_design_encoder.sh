#!/usr/bin/env bash
# The design-size encoder on a GPU, beside crnn_small on the same data and wall clock (STEPS caps both;
# MAX_TIME stopped both first on the H200)
# (experiments/gpu_design_encoder/README.md; issue 16: "where a GPU is lent, train the
# design-size encoder there as well and report it beside the CPU model").
#
#   bash experiments/scripts/gpu_design_encoder.sh [RESULTS_DIR]
#
# On one machine with a CUDA GPU and drumtx's dependencies: renders data=synth_sampled (the
# Hydrogen kits alone, drum-only, synth_songs' production chain; its test split is the realism
# ladder's rung (b) kits), prepares it, trains the design's encoder (encoder=crnn: 32-64-128-256,
# BiLSTM 256 per direction) and crnn_small side by side on the one GPU with the same recipe (the
# candidate's: from scratch, 100-step epochs, 48 validation tracks, STEPS steps, seed SEED; bf16),
# tunes each one's thresholds on the validation tracks, scores both on the test-only kits (rung (b)
# of this data), and scores the bundles named in CPU_MODELS ("name=path.safetensors ...": the CPU
# candidate, v2) on the same tracks. Reports, logs and bundles under outputs/gpu_design_encoder;
# RESULTS_DIR gets a copy of what is worth keeping (metrics.json, logs, the two bundles).
# Every step skips what is done. Environment: PY (python), WORKERS (render and prepare processes,
# default: one per core), STEPS (3500), SEED (42), LOADERS (DataLoader workers per training, 6),
# MAX_TIME (a training's wall-clock cap, 00:00:06:00: it stops early rather than lose the run),
# TRAINER (gpu), TRAIN_ARGS (more overrides for both trainings), SYNTH_ARGS (more drumtx.synth
# overrides, e.g. splits=[train,validation] where the test-only kits are not there: then SCORE=0,
# and the bundles are scored elsewhere), TUNE (1; 0: the thresholds are tuned elsewhere, as the
# bundles are scored).
set -euo pipefail
PY=${PY:-python3}
WORKERS=${WORKERS:-$(nproc)}
STEPS=${STEPS:-3500}
SEED=${SEED:-42}
LOADERS=${LOADERS:-6}
MAX_TIME=${MAX_TIME:-00:00:06:00}
TRAINER=${TRAINER:-gpu}
RESULTS=${1:-}
D=outputs/gpu_design_encoder
mkdir -p "$D"
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }

stamp "render"
"$PY" -m drumtx.synth data=synth_sampled workers="$WORKERS" progress=false ${SYNTH_ARGS:-} 2>&1 | grep -v "^\[.*\]\[drumtx.synth.sampled" | tail -3
stamp "prepare"
"$PY" -m drumtx.prepare data=synth_sampled data.prepare_workers="$WORKERS" 2>&1 | tail -2

RECIPE=(experiment=default_model_v2 data=synth_sampled init_weights=null "trainer=$TRAINER"
	trainer.limit_train_batches=100 data.val_max_tracks=48 "trainer.max_time=$MAX_TIME"
	"callbacks.step_budget.max_steps=$STEPS" "data.num_workers=$LOADERS"
	"seed=$SEED" ${TRAIN_ARGS:-})
train() {  # NAME ENCODER
	[[ -f $D/$1/best.safetensors ]] && return
	"$PY" -m drumtx.train "${RECIPE[@]}" encoder="$2" hydra.run.dir="$D/$1" > "$D/$1.log" 2>&1 \
		|| { echo "training $1 failed:"; tail -5 "$D/$1.log"; return 1; }
}
stamp "train (side by side)"
train crnn_s$SEED crnn & design=$!
train crnn_small_s$SEED crnn_small & small=$!
status=0
wait $design || status=1
wait $small || status=1

# tune NAME, then score BUNDLE on the test-only kits
tune() {
	[[ -f $D/$1/thresholds/done ]] && return
	"$PY" -m drumtx.tune_thresholds ckpt="$D/$1/best.safetensors" data=synth_sampled \
		prepare_workers="$WORKERS" hydra.run.dir="$D/$1/thresholds" > "$D/$1/tune.log" 2>&1 \
		|| { echo "tuning $1 failed:"; tail -5 "$D/$1/tune.log"; return 1; }
	touch "$D/$1/thresholds/done"
}
score() {  # NAME BUNDLE
	[[ -f $D/eval_$1/metrics.json ]] && return
	"$PY" -m drumtx.evaluate ckpt="$2" data=synth_sampled split=test 'kit_names=[unseen:*]' \
		out_dir="$D/eval_$1" prepare_workers="$WORKERS" > "$D/eval_$1.log" 2>&1 \
		|| { echo "scoring $1 failed:"; tail -5 "$D/eval_$1.log"; return 1; }
}
if ((status == 0)) && [[ ${TUNE:-1} == 1 ]]; then
	stamp "tune"
	tune crnn_s$SEED & t1=$!
	tune crnn_small_s$SEED & t2=$!
	wait $t1 || status=1
	wait $t2 || status=1
fi
if ((status == 0)) && [[ ${SCORE:-1} == 1 ]]; then
	stamp "score"
	pids=()
	score crnn_s$SEED "$D/crnn_s$SEED/best.safetensors" & pids+=($!)
	score crnn_small_s$SEED "$D/crnn_small_s$SEED/best.safetensors" & pids+=($!)
	for m in ${CPU_MODELS:-}; do
		score "${m%%=*}" "${m#*=}" & pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || status=1; done
fi
stamp "done (status $status)"

if [[ -n $RESULTS ]]; then
	mkdir -p "$RESULTS"
	for r in crnn_s$SEED crnn_small_s$SEED; do  # bundles in parts of at most 15 MB (cat them back)
		if [[ -f $D/$r/best.safetensors ]]; then
			split -b 15000000 -d "$D/$r/best.safetensors" "$RESULTS/$r.safetensors.part"
		fi
	done
	(cd "$D" && tar czf - --ignore-failed-read *.log eval_* */metrics.json */best.json */csv */tune.log \
		*/thresholds/*.yaml */thresholds/*.json */.hydra 2>/dev/null) > "$RESULTS/reports.tgz" || true
fi
exit $status
