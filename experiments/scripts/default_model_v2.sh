#!/usr/bin/env bash
# Default model v2 (experiments/default_model_v2, issue 16): `make default-model-v2 [ARGS="…"]`.
#  1. the realistic training audio (data=synth_songs) and its feature cache;
#  2. fine-tuning v1 (pinned from git: the package now holds v2) and training from scratch, side
#     by side (one core each), for the same number of steps (experiment=default_model_v2: 1,000);
#  3. the kept arm (fine-tuning) continued to LONG_STEPS (3,000) from its last.ckpt, beside a
#     second seed of it (1,000 steps, then continued the same way), one core each;
#  4. thresholds tuned on validation tracks that look like users' audio: the sampled kits with and
#     without music, and music alone (data.fit_kit_names=[h2_*,sfz_*,none+music]);
#  5. every rung of the realism ladder and the training kits, v1 and each run, and each run's
#     comparison with v1 (drumtx.evaluation.compare);
#  6. the summary of v1 against the best run (highest validation PR-AUC) on every rung, and that run
#     packaged as drumtx/assets/default_model.* (the card's hand-written notes are not written here:
#     rerun that package_model command with --note …).
# Every step skips what is already done and a training resumes from its last.ckpt, so the recipe
# can be rerun across sessions until it completes. Arguments: Hydra overrides for every training.
set -euo pipefail
source "$(dirname "$0")/common.sh"

V2=outputs/default_model_v2
TUNE_KITS='data.fit_kit_names=[h2_*,sfz_*,none+music]'
# name=Hydra overrides of each rung (GMD's unseen test performances; see conf/data/synth_songs.yaml)
RUNGS=(
	"a_unseen_soundfont_kits|kit_names=[unseen:timgm6mb_*,unseen:avl_*]|exclude_kit_names=[*+music]"
	"b_unseen_sampled_kits|kit_names=[unseen:h2_*,unseen:sfz_*]|exclude_kit_names=[*+music]"
	"c_unseen_kits_with_music|kit_names=[unseen:*+music]|exclude_kit_names=[unseen:none+music]"
	"d_music_alone|kit_names=[unseen:none+music]"      # no drums: every onset is a false one
	"training_kits|exclude_kit_names=[unseen:*]"
)

LONG_STEPS=3000

# The overrides that train DIR, or resume it from its last.ckpt; a run that continues another
# (FROM, not "-") starts from FROM's last.ckpt.
train_args() {
	local dir=$1 from=$2
	shift 2
	if [[ -f $dir/checkpoints/last.ckpt ]]; then
		echo "$@" ckpt_path="$dir/checkpoints/last.ckpt"
	elif [[ $from != - ]]; then
		[[ -f $from/checkpoints/last.ckpt ]] || { echo "$from/checkpoints/last.ckpt: missing (it continues that run)" >&2; exit 1; }
		echo "$@" ckpt_path="$from/checkpoints/last.ckpt"
	else
		echo "$@"
	fi
}
# one DIR FROM "OVERRIDES": one training (logging to DIR.log); nothing when it is done
one() {
	local d=$1 f=$2 o=$3 a
	shift 3
	[[ -f $d/best.safetensors ]] && return
	read -r -a a <<< "$(train_args "$d" "$f" "$o")"
	mkdir -p "$(dirname "$d")"
	"$PY" -m drumtx.train experiment=default_model_v2 "${dm_threads[@]}" "${a[@]}" "$@" hydra.run.dir="$d" >> "$d.log" 2>&1 \
		|| { echo "training failed: see $d.log"; exit 1; }
}
# pair DIR1 FROM1 "OVERRIDES1" DIR2 FROM2 "OVERRIDES2": two trainings side by side, one core each
pair() {
	local d1=$1 f1=$2 o1=$3 d2=$4 f2=$5 o2=$6 a1 a2
	shift 6
	if [[ -f $d1/best.safetensors ]]; then one "$d2" "$f2" "$o2" "$@"; return; fi
	if [[ -f $d2/best.safetensors ]]; then one "$d1" "$f1" "$o1" "$@"; return; fi
	read -r -a a1 <<< "$(train_args "$d1" "$f1" "$o1")"
	read -r -a a2 <<< "$(train_args "$d2" "$f2" "$o2")"
	train_pair "$d1" experiment=default_model_v2 "${dm_threads[@]}" "${a1[@]}" "$@" \
		-- "$d2" experiment=default_model_v2 "${dm_threads[@]}" "${a2[@]}" "$@"
}

# v1, the packaged model this replaces, as it shipped (pinned: the package's copy becomes v2)
V1=$V2/v1/default_model.safetensors
if [[ ! -f $V1 ]]; then
	mkdir -p $V2/v1
	git show 61abc86:drumtx/assets/default_model.safetensors > $V1
	git show 61abc86:drumtx/assets/default_model.json > ${V1%.safetensors}.json
fi

"$PY" -m drumtx.synth data=synth_songs
"$PY" -m drumtx.prepare data=synth_songs
LONG="callbacks.step_budget.max_steps=$LONG_STEPS"
pair $V2/finetune_s42 - "seed=42 init_weights=$V1" $V2/scratch_s42 - "seed=42 init_weights=null" "$@"
# scratch was far behind at 1,000 steps (validation PR-AUC 0.33 against 0.48): the second seed
# and the longer budget go to fine-tuning
# one core: seed 43's 1,000 steps, then its continuation; the other: seed 42's continuation
( one $V2/finetune_s43 - "seed=43 init_weights=$V1" "$@"
  one $V2/finetune_s43_long $V2/finetune_s43 "seed=43 $LONG" "$@" ) & s43=$!
one $V2/finetune_s42_long $V2/finetune_s42 "seed=42 $LONG" "$@"
wait $s43
RUNS=(finetune_s42 finetune_s43 finetune_s42_long finetune_s43_long)
for run in "${RUNS[@]}"; do
	# (the marker names the crash rule: thresholds tuned before it held the floor by the Wilson
	# interval, 28e55a3, are tuned again, and the run's reports redone)
	[[ -f $V2/$run/thresholds/done_wilson ]] && continue
	rm -rf $V2/$run/eval_* $V2/$run/vs_v1_*
	"$PY" -m drumtx.tune_thresholds ckpt=$V2/$run/best.safetensors data=synth_songs "$TUNE_KITS" torch_threads=1 \
		hydra.run.dir=$V2/$run/thresholds
	touch $V2/$run/thresholds/done_wilson
done
# evaluate MODEL_BUNDLE OUT_PREFIX: every rung, one report folder each (skipped when done)
evaluate_rungs() {
	local ckpt=$1 prefix=$2 rung r
	for rung in "${RUNGS[@]}"; do
		IFS='|' read -r -a r <<< "$rung"
		[[ -f ${prefix}_${r[0]}/metrics.json ]] && continue
		"$PY" -m drumtx.evaluate ckpt="$ckpt" data=synth_songs split=test "${r[@]:1}" out_dir="${prefix}_${r[0]}" \
			torch_threads=1
	done
}
evaluate_rungs $V1 $V2/v1/eval
for run in "${RUNS[@]}"; do
	evaluate_rungs $V2/$run/best.safetensors $V2/$run/eval
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		"$PY" -m drumtx.evaluation.compare $V2/v1/eval_$name $V2/$run/eval_$name -o $V2/$run/vs_v1_$name
	done
done

# 6. the best run by validation PR-AUC: summary against v1, and the package
BEST=$("$PY" -c 'import json, sys; print(max(sys.argv[1:], key=lambda r: json.load(open(f"{r}/metrics.json"))["value"]))' \
	"${RUNS[@]/#/$V2/}")
summary=()
evals=()
for rung in "${RUNGS[@]}"; do
	name=${rung%%|*}
	[[ $name == d_* ]] && continue  # music alone has no onsets to score F on: its false onsets are in the reports
	summary+=("v1 ${name%%_*}=$V2/v1/eval_$name/metrics.json" "v2 ${name%%_*}=$BEST/eval_$name/metrics.json")
	evals+=(--eval "${name#*_}=$BEST/eval_$name/metrics.json")
done
"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/summary --title "Default model v2 against v1, every rung" "${summary[@]}"
"$PY" -m drumtx.package_model $BEST/best.safetensors "${evals[@]}" \
	--command "make default-model-v2  # experiment=default_model_v2 (experiments/scripts/default_model_v2.sh)"
