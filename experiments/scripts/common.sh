# Sourced by the experiment recipes in this folder (make default-model, transfer-ablation,
# sweep-finetune): runs from the repository root, with
#   PY          the Python that has drumtx (default .venv/bin/python; the Makefile passes its own)
#   DM_THREADS  per-training thread overrides when two trainings share the cores
#               (default "torch_threads=1 data.num_workers=1"; DM_THREADS= for none)
# and train_pair, which trains two runs side by side.

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=${PY:-.venv/bin/python}
# split on spaces, never glob-expanded (an override like 'kit_names=[unseen:*]' stays as written)
read -r -a dm_threads <<< "${DM_THREADS-torch_threads=1 data.num_workers=1}"

# Two trainings side by side, each logging to <run folder>.log beside its run folder:
#   train_pair DIR1 OVERRIDE... -- DIR2 OVERRIDE...
# Exits 1, naming both logs, when either fails.
train_pair() {
	local d1=$1 a1=()
	shift
	while [[ $1 != -- ]]; do a1+=("$1"); shift; done
	shift
	local d2=$1 p1 p2 s1=0 s2=0
	shift
	mkdir -p "$(dirname "$d1")" "$(dirname "$d2")"
	"$PY" -m drumtx.train "${a1[@]}" hydra.run.dir="$d1" >> "$d1.log" 2>&1 & p1=$!
	"$PY" -m drumtx.train "$@" hydra.run.dir="$d2" >> "$d2.log" 2>&1 & p2=$!
	wait "$p1" || s1=$?
	wait "$p2" || s2=$?
	if [[ $s1 -ne 0 || $s2 -ne 0 ]]; then
		echo "training failed: see $d1.log, $d2.log"
		exit 1
	fi
}
