# Sourced by the default model v2 recipes (default_model_v2.sh, default_model_v2_music.sh), after
# common.sh: the run folder, the realism ladder's rungs, and the steps every v2 run goes through
# (train or resume, tune thresholds, score every rung against v1).
V2=${V2:-outputs/default_model_v2}  # (V2, STASH: from the environment in tests/test_stash.py)
# the validation tracks thresholds are tuned on: sampled kits and music alone (the held-out
# recipes set TUNE_DATA/TUNE_KITS to their held-out kits; SAMPLED_TUNE_KITS sets it back)
SAMPLED_TUNE_KITS='data.fit_kit_names=[h2_*,sfz_*,none+music]'
TUNE_KITS=$SAMPLED_TUNE_KITS
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

# Trainings that outlive a checkout. A session may begin on a fresh clone that holds only what git
# holds (2026-12-02: outputs/, data/ and cache/ were gone, and with them a 2,400-step training), so
# runs are carried in git: stash_run DIR copies an unfinished run's last.ckpt, the best checkpoint
# its last.ckpt names (best.safetensors is exported from it when the run ends) and its logs, or a
# finished run's bundle (best.*, its tuning marker), and its last.ckpt only where it is named in
# $CONTINUED (a later recipe may continue it), into $STASH/<run>; restore_run DIR puts them back when the checkout has neither last.ckpt nor
# best.safetensors. The data a run needs is rendered and prepared again by its recipe (the render
# is seeded). Lightning loads the checkpoints with weights_only=True (drumtx.train), and a run
# restored into a checkout at another path keeps its top-k bookkeeping (drumtx.models.callbacks).
STASH=${STASH:-experiments/default_model_v2/resume}
# finished runs whose last.ckpt stays in the stash: the longest-trained line of the candidate, where
# a longer arm would start. Every other finished run is scored and summarised, and its 9.5 MB
# last.ckpt (optimizer state included) would only grow the repository (2026-12-04: 208 MB tracked,
# 120 MB of it such checkpoints). A recipe that continues another finished run adds it here.
CONTINUED=${CONTINUED:-long_w4_s42 long_w4_s43 electronic_w4_s42 electronic_w4_s43 distil80sampled4k_w4_s42 distil80sampled4k_w4_s43}  # (electronic: make default-model-v2-electronic-long)
# _stash_copy FILE DEST_DIR: a training beside this rewrites last.ckpt every 50 steps: copy until
# the copy equals the file
_stash_copy() {
	local f=$1 to=$2 i
	for i in 1 2 3 4 5; do
		cp -p "$f" "$to/" && sleep 1 && cmp -s "$f" "$to/$(basename "$f")" && return 0
	done
	echo "$f: changed during 5 copies; not stashed" >&2
	return 1
}
stash_run() {
	local d=$1 dest best f
	dest=$STASH/$(basename "$d")
	[[ -f $d/checkpoints/last.ckpt || -f $d/best.safetensors ]] || return 0
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/checkpoints"
	if [[ -f $d/checkpoints/last.ckpt && ( ! -f $d/best.safetensors || " $CONTINUED " == *" $(basename "$d") "* ) ]]; then
		_stash_copy "$d/checkpoints/last.ckpt" "$dest.tmp/checkpoints" || { rm -rf "$dest.tmp"; return 1; }
	fi
	if [[ -f $d/best.safetensors ]]; then  # finished: its bundle (with tuned thresholds, if any)
		# (not best.validation.probs.npz: tuning's 13 MB cache of validation outputs, remade if ever needed)
		for f in "$d"/best.safetensors "$d"/best.json "$d"/metrics.json; do [[ -f $f ]] && cp -p "$f" "$dest.tmp/"; done
		if [[ -f $d/thresholds/done_wilson ]]; then mkdir -p "$dest.tmp/thresholds" && cp -p "$d/thresholds/done_wilson" "$dest.tmp/thresholds/"; fi
	else  # the best checkpoint the copied last.ckpt names (Lightning's own choice, ties included)
		best=$("$PY" -c 'import sys, torch
state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
print(next((v["best_model_path"] for v in (state.get("callbacks") or {}).values()
            if isinstance(v, dict) and v.get("best_model_path")), ""))' "$dest.tmp/checkpoints/last.ckpt") \
			|| { echo "$d: cannot read its last.ckpt; not stashed" >&2; rm -rf "$dest.tmp"; return 1; }
		best=${best:+$d/checkpoints/$(basename "$best")}
		if [[ -n $best && -f $best ]]; then
			_stash_copy "$best" "$dest.tmp/checkpoints" || { rm -rf "$dest.tmp"; return 1; }
			# the best is only ever exported, never resumed: its optimizer state (2/3 of the file) stays out of git
			"$PY" -c 'import os, sys, torch
path = sys.argv[1]
state = torch.load(path, map_location="cpu", weights_only=True)
state.pop("optimizer_states", None)
torch.save(state, path + ".tmp")
os.replace(path + ".tmp", path)' "$dest.tmp/checkpoints/$(basename "$best")" \
				|| { echo "$best: cannot slim it; not stashed" >&2; rm -rf "$dest.tmp"; return 1; }
		fi
	fi
	if [[ -f $d/best.safetensors ]]; then  # its reports, those only the stash holds included
		restore_reports "$d"
		_stash_reports "$d" "$dest.tmp"
		# and its crash tuned on every kit family (crash_tune_kits.sh): the setting and its reports
		restore_reports "$d" crash_all_kits
		_stash_reports "$d/crash_all_kits" "$dest.tmp/crash_all_kits"
		if [[ -f $d/crash_all_kits/thresholds/thresholds.json ]]; then
			mkdir -p "$dest.tmp/crash_all_kits/thresholds"
			cp -p "$d/crash_all_kits/thresholds/thresholds.json" "$dest.tmp/crash_all_kits/thresholds/"
		fi
	fi
	[[ -d $d/csv ]] && cp -rp "$d/csv" "$dest.tmp/"
	[[ -d $d/.hydra ]] && cp -rp "$d/.hydra" "$dest.tmp/"
	[[ -f $d.log ]] && cp -p "$d.log" "$dest.tmp/train.log"
	rm -rf "$dest" && mv "$dest.tmp" "$dest"
	echo "stashed $d -> $dest ($(du -sh "$dest" | cut -f1))"
}
# Evaluation reports outlive a checkout too: a finished run's (and v1's) rung reports, without
# their figures (~0.4 MB a rung: metrics.json, curves.json, report.md, tracks.csv), so a later arm's
# summary beside it needs neither its re-evaluation (~20 min a run) nor, for an arm scored on other
# data, synth_songs' render. They are what evaluate wrote at the commit that stashed them: delete a
# run's eval_* folders to score it again with changed evaluation code.
# _stash_reports RUN_DIR DEST_DIR: RUN_DIR's eval_<rung>/ reports into DEST_DIR/eval_<rung>/
_stash_reports() {
	local d=$1 to=$2 e f
	for e in "$d"/eval_*/; do
		e=${e%/}
		[[ -f $e/metrics.json ]] || continue
		mkdir -p "$to/$(basename "$e")"
		for f in metrics.json curves.json report.md tracks.csv; do
			[[ -f $e/$f ]] && cp -p "$e/$f" "$to/$(basename "$e")/"
		done
	done
	return 0
}
# stash_reports RUN_DIR: only RUN_DIR's reports (v1: pinned from git, never trained here)
stash_reports() {
	local d=$1 dest
	dest=$STASH/$(basename "$d")
	restore_reports "$d"  # (what the stash holds and this checkout lacks stays stashed)
	compgen -G "$d/eval_*/metrics.json" > /dev/null || return 0
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
	_stash_reports "$d" "$dest.tmp"
	rm -rf "$dest" && mv "$dest.tmp" "$dest"
	echo "stashed the reports of $d -> $dest ($(du -sh "$dest" | cut -f1))"
}
# restore_reports RUN_DIR [SUB]: the stashed reports a checkout lacks (a report folder here wins);
# with SUB (crash_all_kits), those of RUN_DIR/SUB, and its thresholds.json where it lacks one
restore_reports() {
	local src=$STASH/$(basename "$1")${2:+/$2} d=$1${2:+/$2} e
	for e in "$src"/eval_*/; do
		e=${e%/}
		[[ -f $e/metrics.json && ! -e $d/$(basename "$e") ]] || continue
		mkdir -p "$d" && cp -rp "$e" "$d/"
	done
	if [[ -n ${2:-} && -f $src/thresholds/thresholds.json && ! -f $d/thresholds/thresholds.json ]]; then
		mkdir -p "$d/thresholds" && cp -p "$src/thresholds/thresholds.json" "$d/thresholds/"
	fi
	return 0
}
# scored RUN...: whether every run (a folder name in $V2; v1 included) has its thresholds tuned (v1
# shipped tuned) and a report on every rung, so scoring it needs no data
scored() {
	local run rung
	for run in "$@"; do
		restore_reports "$V2/$run"
		[[ $run == v1 ]] || tuned "$run" || return 1
		for rung in "${RUNGS[@]}"; do
			[[ -f $V2/$run/eval_${rung%%|*}/metrics.json ]] || return 1
		done
	done
}
restore_run() {
	local d=$1 src f
	src=$STASH/$(basename "$d")
	[[ -f $d/checkpoints/last.ckpt || -f $d/best.safetensors ]] && return 0
	[[ -f $src/checkpoints/last.ckpt || -f $src/best.safetensors ]] || return 0
	mkdir -p "$d"
	for f in "$src"/* "$src"/.hydra; do
		[[ -e $f && $(basename "$f") != train.log ]] && cp -rp "$f" "$d/"
	done
	[[ -f $src/train.log && ! -f $d.log ]] && cp -p "$src/train.log" "$d.log"
	echo "restored $d from $src" >&2
}

# The overrides that train DIR, or resume it from its last.ckpt (restored from $STASH when the
# checkout lacks it); a run that continues another (FROM, not "-") starts from FROM's last.ckpt.
train_args() {
	local dir=$1 from=$2
	shift 2
	restore_run "$dir"
	[[ $from != - ]] && restore_run "$from"
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
	restore_run "$d"
	[[ -f $d/best.safetensors ]] && return
	local args
	args=$(train_args "$d" "$f" "$o") || exit 1  # (an exit inside $(...) only leaves the subshell)
	read -r -a a <<< "$args"
	mkdir -p "$(dirname "$d")"
	"$PY" -m drumtx.train experiment=default_model_v2 "${dm_threads[@]}" "${a[@]}" "$@" hydra.run.dir="$d" >> "$d.log" 2>&1 \
		|| { echo "training failed: see $d.log"; exit 1; }
}
# pair DIR1 FROM1 "OVERRIDES1" DIR2 FROM2 "OVERRIDES2": two trainings side by side, one core each
pair() {
	local d1=$1 f1=$2 o1=$3 d2=$4 f2=$5 o2=$6 a1 a2
	shift 6
	restore_run "$d1"
	restore_run "$d2"
	if [[ -f $d1/best.safetensors ]]; then one "$d2" "$f2" "$o2" "$@"; return; fi
	if [[ -f $d2/best.safetensors ]]; then one "$d1" "$f1" "$o1" "$@"; return; fi
	local args1 args2
	args1=$(train_args "$d1" "$f1" "$o1") || exit 1
	args2=$(train_args "$d2" "$f2" "$o2") || exit 1
	read -r -a a1 <<< "$args1"
	read -r -a a2 <<< "$args2"
	train_pair "$d1" experiment=default_model_v2 "${dm_threads[@]}" "${a1[@]}" "$@" \
		-- "$d2" experiment=default_model_v2 "${dm_threads[@]}" "${a2[@]}" "$@"
}

# tuned RUN: whether RUN's thresholds are tuned by today's crash rule. The marker names the rule:
# thresholds tuned before the floor was held by the Wilson interval (28e55a3) lack it; those whose
# crash missed the floor and took the best F0.5 (the rule before the surest setting, README
# "Sweeps and threshold tuning", 2026-12-05) say so in the bundle's sidecar. Either is tuned again.
tuned() {
	[[ -f $V2/$1/thresholds/done_wilson ]] && ! grep -qs 'took the best F0.5' "$V2/$1/best.json"
}
# tune RUN [DATA]: thresholds tuned on validation tracks that look like users' audio (of data
# option DATA, default $TUNE_DATA or synth_songs; the tracks of $TUNE_KITS), written into the run's best.safetensors sidecar (skipped when
# done, see tuned), and the run's reports removed to be redone
tune() {
	local run=$1 data=${2:-${TUNE_DATA:-synth_songs}}
	tuned "$run" && return
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
	restore_reports "$V2/v1"
	pinned_v1
	evaluate_rungs "$V1" "$V2/v1/eval"
	evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/eval"
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		"$PY" -m drumtx.evaluation.compare "$V2/v1/eval_$name" "$V2/$run/eval_$name" -o "$V2/$run/vs_v1_$name"
	done
}

# score_lanes RUN...: tune and score every run in two lanes, one core each (each evaluation is one
# thread and deterministic, so the order changes no number): the first run in this shell (v1's
# rungs first where they are not yet scored), then the runs alternate between a second lane and
# this shell (the first runs are often scored already: one lane for all the others left a core
# idle for 25 minutes of the long arm's scoring); then every run's comparison with v1
score_lanes() {
	local runs=("$@") lane run
	for run in "${runs[@]}"; do restore_reports "$V2/$run"; done  # (a run here may lack what its stash holds)
	_tune_every_other() {  # FROM: runs FROM, FROM+2, … tuned and evaluated
		local i
		for ((i = $1; i < ${#runs[@]}; i += 2)); do
			tune "${runs[i]}"
			evaluate_rungs "$V2/${runs[i]}/best.safetensors" "$V2/${runs[i]}/eval"
		done
	}
	_tune_every_other 1 &
	lane=$!
	tune "${runs[0]}"
	score "${runs[0]}"
	_tune_every_other 2
	wait "$lane"
	for run in "${runs[@]:1}"; do score "$run"; done  # (evaluations done: the comparisons)
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
	# the issue's aims (conf/aims/default_model_v2.yaml), read on the unseen sampled acoustic kits of
	# rungs (b) and (c) and on (d): aims.md beside summary.md
	local aims=()
	for arm in "$@"; do
		for rung in b_unseen_sampled_kits c_unseen_kits_with_music d_music_alone; do
			aims+=("${arm%%|*}=$V2/${arm#*|}/eval_$rung")
		done
	done
	"$PY" -m drumtx.evaluation.aims -o "experiments/default_model_v2/$out" "${aims[@]}"
}

# rung_e OUT "LABEL|RUN"...: rung (e), GMD's test performances on the two drum machines no model
# trained on (gen_t01, gen_t02), drum-only and with music, on synth_songs_electronic's test split
# (rendered and prepared here where the checkout lacks it: nothing to do when it is on disk); each
# run with its own tuned thresholds, as on every rung; one summary in experiments/default_model_v2/OUT/rung_e
rung_e() {
	local out=$1 arm run rung summary=()
	shift
	"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}" 'splits=[test]'
	"$PY" -m drumtx.prepare data=synth_songs_electronic 'splits=[test]'
	# (evaluate_rungs reads RUNGS: this local one, for the calls below only)
	local RUNGS=("e_unseen_drum_machines|kit_names=[unseen:gen_t*]|exclude_kit_names=[*+music]"
		"e_unseen_drum_machines_with_music|kit_names=[unseen:gen_t*+music]")
	for arm in "$@"; do
		run=${arm#*|}
		evaluate_rungs "$V2/$run/best.safetensors" "$V2/$run/eval" synth_songs_electronic
		for rung in "${RUNGS[@]%%|*}"; do
			summary+=("${arm%%|*} ${rung#e_unseen_}=$V2/$run/eval_$rung/metrics.json")
		done
	done
	"$PY" -m drumtx.evaluation.summary -o "experiments/default_model_v2/$out/rung_e" \
		--title "Rung (e): two drum machines no model trained on (gen_t01, gen_t02), drum-only and with music" "${summary[@]}"
}

# v1, the packaged model this replaces, as it shipped (pinned: the package's copy becomes v2)
V1=$V2/v1/default_model.safetensors
SCRIPTS=$(dirname "${BASH_SOURCE[0]}")  # (git runs here: in the repository, whatever the working folder)
# pinned_v1: its bundle into $V2/v1, where missing (only by what uses it: a script's usage error
# writes nothing; each file renamed into place, so an interrupted pin is no half model)
pinned_v1() {
	[[ -f $V1 ]] && return
	mkdir -p "$V2/v1"
	git -C "$SCRIPTS" show 61abc86:drumtx/assets/default_model.json > "${V1%.safetensors}.json.tmp"
	mv "${V1%.safetensors}.json.tmp" "${V1%.safetensors}.json"
	git -C "$SCRIPTS" show 61abc86:drumtx/assets/default_model.safetensors > "$V1.tmp"
	mv "$V1.tmp" "$V1"
}

# pinned_v2: the shipped v2 (music_w4_s42) as the run folder its recipe left, where a fresh checkout
# lacks it: its best.safetensors is the packaged bundle of 397b09b (that run's weights, with the
# thresholds tune gave it, so tuning is marked done)
pinned_v2() {
	local d=$V2/music_w4_s42
	[[ -f $d/best.safetensors ]] && return
	mkdir -p "$d/thresholds"
	git -C "$SCRIPTS" show 397b09b:drumtx/assets/default_model.safetensors > "$d/best.safetensors.tmp"
	git -C "$SCRIPTS" show 397b09b:drumtx/assets/default_model.json > "$d/best.json"
	touch "$d/thresholds/done_wilson"
	mv "$d/best.safetensors.tmp" "$d/best.safetensors"
}

# ship RUN_DIR COMMAND: v1 against RUN_DIR on every rung (experiments/default_model_v2/summary) and
# on the old synth_gmd test splits, v1's own benchmark: its training kits and 7 kits neither model
# heard (experiments/default_model_v2/synth_gmd; only synth_gmd's test split is rendered for it);
# then RUN_DIR's bundle packaged as drumtx/assets/default_model.* with COMMAND on its card
# (further arguments go to drumtx.package_model, e.g. --presence 0.8 --presence-source FILE);
# SHIP_NAME (e.g. v2.1): the model's name, in the summaries' columns and titles (default v2) and
# given to package_model --name (none when unset)
# rung_label NAME: a rung's name for a reader (a_unseen_soundfont_kits: unseen sound-font kits)
rung_label() {
	case $1 in
		a_*) echo "unseen sound-font kits" ;;
		b_*) echo "unseen sampled kits" ;;
		c_*) echo "unseen kits with music" ;;
		d_*) echo "music alone" ;;
		*) echo "${1//_/ }" ;;
	esac
}
ship() {
	local run=$1 command=$2 rung name slice model out g label=${SHIP_NAME:-v2}
	shift 2
	local summary=() evals=() gmd_summary=()
	for rung in "${RUNGS[@]}"; do
		name=${rung%%|*}
		[[ $name == d_* ]] && continue  # music alone has no onsets to score F on: its false onsets are in the reports
		summary+=("v1 ${name%%_*}=$V2/v1/eval_$name/metrics.json" "$label ${name%%_*}=$run/eval_$name/metrics.json")
		evals+=(--eval "$(rung_label "$name")=$run/eval_$name/metrics.json")
	done
	"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/summary --title "Default model $label against v1, every rung" "${summary[@]}"
	"$PY" -m drumtx.synth data=synth_gmd 'splits=[test]'
	pinned_v1
	for model in "v1|$V1" "$(basename "$run")|$run/best.safetensors"; do
		for slice in "training_kits|exclude_kit_names=[unseen:*]" "unseen_kits|kit_names=[unseen:*]"; do
			IFS='|' read -r -a g <<< "$slice"
			out=$V2/synth_gmd/${model%%|*}_${g[0]}
			[[ -f $out/metrics.json ]] || "$PY" -m drumtx.evaluate ckpt="${model#*|}" data=synth_gmd split=test "${g[1]}" \
				out_dir="$out" torch_threads=1
			gmd_summary+=("$([[ ${model%%|*} == v1 ]] && echo v1 || echo "$label") ${g[0]%%_*}=$out/metrics.json")
		done
	done
	"$PY" -m drumtx.evaluation.summary -o experiments/default_model_v2/synth_gmd \
		--title "Default model $label against v1 on synth_gmd's test split (v1's training kits; 7 kits neither heard)" "${gmd_summary[@]}"
	"$PY" -m drumtx.package_model "$run/best.safetensors" "${evals[@]}" --command "$command" \
		${SHIP_NAME:+--name "$SHIP_NAME"} "$@"
}


# The candidate's recipe (make default-model-v2-candidate; -long and -tuned change one thing each),
# less its step budget (callbacks.step_budget.max_steps=…, the caller's): crnn_small from scratch,
# no wall-clock limit, 100-step epochs, 48 validation tracks, music-only tracks served 4x as often.
CANDIDATE_RECIPE="init_weights=null encoder=crnn_small trainer.limit_train_batches=100 data.val_max_tracks=48 trainer.max_time=null data.train_kit_weights={none+music:4}"

# A from-scratch arm of the equal-budget comparisons (encoder width, front end; the seed is the
# caller's): 90 minutes of wall clock with validation (trainer.max_time), 100-step epochs and 48 validation
# tracks for a curve; callbacks.train_clock logs each point's training seconds.
SCRATCH_ARM="init_weights=null trainer.max_time=00:01:30:00 callbacks.step_budget.max_steps=null trainer.limit_train_batches=100 data.val_max_tracks=48"

# heldout_arm NAME OVERRIDES [OVERRIDE...]: the long arm's recipe (the candidate's, 7,000 steps) on
# data=synth_songs_heldout plus OVERRIDES (a string, may be empty), seeds 42 and 43 side by side
# (runs NAME_w4_s42, NAME_w4_s43; further arguments go to both trainings); each tuned on the
# held-out kits' validation tracks (kit_name unseen:*) and music alone, every rung scored
heldout_arm() {
	local name=$1 args="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=7000 data=synth_songs_heldout $2"
	shift 2
	pair $V2/${name}_w4_s42 - "seed=42 $args" $V2/${name}_w4_s43 - "seed=43 $args" "$@"
	TUNE_DATA=synth_songs_heldout
	TUNE_KITS='data.fit_kit_names=[unseen:*,none+music]'
	pinned_v2
	score_lanes "${name}_w4_s42" "${name}_w4_s43"
}

# data_arm NAME DATA TITLE [OVERRIDE...]: the candidate's recipe (from scratch, music-only tracks x4
# from the start, 3,500 steps, seeds 42 and 43 side by side, runs NAME_w4_s4x) on data=DATA, beside
# the candidate (the same recipe on synth_songs): DATA rendered and prepared first (the trainings
# need nothing else; skipped once both are trained), the candidate's bundles restored from the
# stash on a fresh clone, then synth_songs' validation and test tracks rendered and prepared to
# tune and score on (skipped where the checkout has them; its 4,100 training tracks, 2/3 of its
# 6,027, are not needed here), all four runs scored (the candidate's rungs skipped where its
# reports are stashed) and one summary (and aims.md) titled TITLE.
# Further arguments go to both trainings. Where the checkout holds a synth_songs render
# (data/synth_songs), DATA's tracks rendered alike there are linked from it (reuse=; the hybrid
# render took 12 min so, half its tracks linked); ARM_REUSE names a render to prefer (one whose
# training tracks are likelier to be on disk).
data_arm() {
	local name=$1 data=$2 title=$3 seed args reuse=() from
	shift 3
	for from in ${ARM_REUSE:-} synth_songs; do
		if [[ $data != "$from" && -f data/$from/synth_recipe.yaml ]]; then reuse=("reuse=$PWD/data/$from"); break; fi
	done
	for seed in 42 43; do restore_run $V2/${name}_w4_s$seed; done
	if [[ ! -f $V2/${name}_w4_s42/best.safetensors || ! -f $V2/${name}_w4_s43/best.safetensors ]]; then
		# (both trained: tuning and scoring use synth_songs alone, so DATA's render is not needed)
		"$PY" -m drumtx.synth data="$data" workers="${WORKERS:-2}" "${reuse[@]}"
		"$PY" -m drumtx.prepare data="$data"
	fi
	for seed in 42 43; do
		restore_run $V2/scratch_w4_s$seed
		require $V2/scratch_w4_s$seed/best.safetensors default-model-v2-candidate
	done
	args="$CANDIDATE_RECIPE callbacks.step_budget.max_steps=3500 data=$data"
	pair $V2/${name}_w4_s42 - "seed=42 $args" $V2/${name}_w4_s43 - "seed=43 $args" "$@"
	"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}" 'splits=[validation,test]'
	"$PY" -m drumtx.prepare data=synth_songs
	score_lanes ${name}_w4_s42 ${name}_w4_s43 scratch_w4_s42 scratch_w4_s43  # two lanes, one core each
	rung_summary "$name" "$title" "candidate s42|scratch_w4_s42" "candidate s43|scratch_w4_s43" \
		"$name s42|${name}_w4_s42" "$name s43|${name}_w4_s43"
}

# beside_arm NAME LABEL BASE BASE_LABEL ARGS TITLE [OVERRIDE...]: an arm of one change against a
# trained one on synth_songs_electronic: seeds 42 and 43 (runs NAME_w4_s42, NAME_w4_s43, side by
# side) trained with ARGS (the whole recipe, a string) then OVERRIDEs; BASE's two seeds
# (BASE_w4_s42, BASE_w4_s43) restored from the stash on a fresh clone (the recipe stops before any
# work without them: make default-model-v2-BASE first), v2 pinned before the trainings (an arm may
# start from it), synth_songs_electronic rendered and prepared while a seed trains, then v2, the
# two new runs (one lane each) and BASE's tuned and scored on every rung, one summary (and aims.md)
# titled TITLE in experiments/default_model_v2/NAME, and rung (e).
beside_arm() {
	local name=$1 label=$2 base=$3 base_label=$4 args=$5 title=$6 seed
	shift 6
	for seed in 42 43; do
		restore_run $V2/${name}_w4_s$seed
		restore_run $V2/${base}_w4_s$seed
		require $V2/${base}_w4_s$seed/best.safetensors "default-model-v2-${base//_/-}"
	done
	pinned_v2
	if [[ ! -f $V2/${name}_w4_s42/best.safetensors || ! -f $V2/${name}_w4_s43/best.safetensors ]]; then
		"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}"
		"$PY" -m drumtx.prepare data=synth_songs_electronic
	fi
	pair $V2/${name}_w4_s42 - "seed=42 $args" $V2/${name}_w4_s43 - "seed=43 $args" "$@"
	# tuned and scored on synth_songs' rungs like every arm (its validation and test tracks)
	"$PY" -m drumtx.synth data=synth_songs workers="${WORKERS:-2}" 'splits=[validation,test]'
	"$PY" -m drumtx.prepare data=synth_songs 'splits=[validation,test]'
	score_lanes music_w4_s42 ${name}_w4_s42 ${name}_w4_s43 ${base}_w4_s42 ${base}_w4_s43
	local arms=("v2 s42 (shipped)|music_w4_s42" "$base_label s42|${base}_w4_s42" "$base_label s43|${base}_w4_s43"
		"$label s42|${name}_w4_s42" "$label s43|${name}_w4_s43")
	rung_summary "$name" "$title" "${arms[@]}"
	rung_e "$name" "${arms[@]}"
}
