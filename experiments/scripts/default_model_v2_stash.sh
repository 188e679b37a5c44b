#!/usr/bin/env bash
# `make default-model-v2-stash`: carry the v2 runs across a fresh checkout. Copies each unfinished
# run's last.ckpt, the best checkpoint it names and its logs, and each finished run's bundle
# (best.*, tuning marker, rung reports; last.ckpt only for the runs in $CONTINUED) and v1's rung
# reports, into experiments/default_model_v2/resume/<run>/
# (stash_run in default_model_v2_common.sh), to be committed. The recipes restore a stashed run
# when the checkout lacks it. Safe beside a running training (copies are compared); a run that
# cannot be stashed is named and the others are still stashed (exit 1 at the end).
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

shopt -s nullglob
failed=0
for d in $V2/*/; do
	# v1: pinned from git, never trained here: its reports only
	if [[ $(basename "$d") == v1 ]]; then stash_reports "${d%/}"; continue; fi
	stash_run "${d%/}" || failed=1
done
git status --short -- "$STASH" 2>/dev/null || true  # (a STASH outside the repository: nothing to show)
exit $failed
