# Sourced by the default model v2 recipes (default_model_v2.sh, default_model_v2_music.sh), after
# common.sh: the run folder, the realism ladder's rungs, and the steps every v2 run goes through
# (train or resume, tune thresholds, score every rung against v1).
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

# require FILE TARGET: one line and exit 1 when a run this recipe builds on is missing
require() { [[ -f $1 ]] || { echo "$1: missing (make $2 first)" >&2; exit 1; }; }

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

# tune RUN [DATA]: thresholds tuned on validation tracks that look like users' audio (of data
# option DATA, default synth_songs), written into the run's best.safetensors sidecar (skipped when
# done; the marker names the crash rule: thresholds tuned before it held the floor by the Wilson
# interval, 28e55a3, are tuned again, and the run's reports redone)
tune() {
	local run=$1 data=${2:-synth_songs}
	[[ -f $V2/$run/thresholds/done_wilson ]] && return
	rm -rf "$V2/$run"/eval_* "$V2/$run"/vs_v1_*
	"$PY" -m drumtx.tune_thresholds ckpt="$V2/$run/best.safetensors" data="$data" "$TUNE_KITS" torch_threads=1 \
		hydra.run.dir="$V2/$run/thresholds"
	touch "$V2/$run/thresholds/done_wilson"
}
# evaluate MODEL_BUNDLE OUT_PREFIX [DATA [OVERRIDE...]]: every rung of data option DATA (default
# synth_songs), one report folder each (skipped when done); further evaluate overrides after DATA
evaluate_rungs() {
	local ckpt=$1 prefix=$2 data=${3:-synth_songs} rung r
	shift $(($# < 3 ? $# : 3))
	for rung in "${RUNGS[@]}"; do
		IFS='|' read -r -a r <<< "$rung"
		[[ -f ${prefix}_${r[0]}/metrics.json ]] && continue
		"$PY" -m drumtx.evaluate ckpt="$ckpt" data="$data" split=test "${r[@]:1}" out_dir="${prefix}_${r[0]}" \
			torch_threads=1 "$@"
	done
}
# score RUN: every rung, and each rung's comparison with v1 (v1 scored first when it is not yet)
score() {
	local run=$1 rung name
	evaluate_rungs "$V1" "$V2/v1/eval"
	evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/eval"
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		"$PY" -m drumtx.evaluation.compare "$V2/v1/eval_$name" "$V2/$run/eval_$name" -o "$V2/$run/vs_v1_$name"
	done
}

# rung_summary OUT TITLE "LABEL|RUN"...: one summary of the runs' reports on every rung with
# onsets (experiments/default_model_v2/OUT), then each run's false onsets per minute of music alone
rung_summary() {
	local out=$1 title=$2 rung name arm
	shift 2
	local summary=()
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		[[ $name == d_* ]] && continue  # no onsets to score F on: its false onsets per minute are in each report
		for arm in "$@"; do
			summary+=("${arm%%|*} ${name%%_*}=$V2/${arm#*|}/eval_$name/metrics.json")
		done
	done
	"$PY" -m drumtx.evaluation.summary -o "experiments/default_model_v2/$out" --title "$title" "${summary[@]}"
	for arm in "$@"; do
		grep -H "False positives per minute" "$V2/${arm#*|}/eval_d_music_alone/report.md"
	done
}

# v1, the packaged model this replaces, as it shipped (pinned: the package's copy becomes v2)
V1=$V2/v1/default_model.safetensors
if [[ ! -f $V1 ]]; then
	mkdir -p $V2/v1
	git show 61abc86:drumtx/assets/default_model.safetensors > $V1
	git show 61abc86:drumtx/assets/default_model.json > ${V1%.safetensors}.json
fi

# ship RUN_DIR COMMAND: v1 against RUN_DIR on every rung (experiments/default_model_v2/summary) and
# on the old synth_gmd test splits, v1's own benchmark: its training kits and 7 kits neither model
# heard (experiments/default_model_v2/synth_gmd; only synth_gmd's test split is rendered for it);
# then RUN_DIR's bundle packaged as drumtx/assets/default_model.* with COMMAND on its card
ship() {
	local run=$1 command=$2 rung name slice model out g
	local summary=() evals=() gmd_summary=()
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		[[ $name == d_* ]] && continue  # music alone has no onsets to score F on: its false onsets are in the reports
		summary+=("v1 ${name%%_*}=$V2/v1/eval_$name/metrics.json" "v2 ${name%%_*}=$run/eval_$name/metrics.json")
		evals+=(--eval "${name#*_}=$run/eval_$name/metrics.json")
	done
	"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/summary --title "Default model v2 against v1, every rung" "${summary[@]}"
	"$PY" -m drumtx.synth data=synth_gmd 'splits=[test]'
	for model in "v1|$V1" "$(basename "$run")|$run/best.safetensors"; do
		for slice in "training_kits|exclude_kit_names=[unseen:*]" "unseen_kits|kit_names=[unseen:*]"; do
			IFS='|' read -r -a g <<< "$slice"
			out=$V2/synth_gmd/${model%%|*}_${g[0]}
			[[ -f $out/metrics.json ]] || "$PY" -m drumtx.evaluate ckpt="${model#*|}" data=synth_gmd split=test "${g[1]}" \
				out_dir="$out" torch_threads=1
			gmd_summary+=("$([[ ${model%%|*} == v1 ]] && echo v1 || echo v2) ${g[0]%%_*}=$out/metrics.json")
		done
	done
	"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/synth_gmd \
		--title "Default model v2 against v1 on synth_gmd's test split (v1's training kits; 7 kits neither heard)" "${gmd_summary[@]}"
	"$PY" -m drumtx.package_model "$run/best.safetensors" "${evals[@]}" --command "$command"
}


# A from-scratch arm of the equal-budget comparisons (encoder width, front end; the seed is the
# caller's): 90 minutes of wall clock with validation (trainer.max_time), 100-step epochs and 48 validation
# tracks for a curve; callbacks.train_clock logs each point's training seconds.
SCRATCH_ARM="init_weights=null trainer.max_time=00:01:30:00 callbacks.step_budget.max_steps=null trainer.limit_train_batches=100 data.val_max_tracks=48"
