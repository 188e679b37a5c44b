#!/usr/bin/env bash
# `make default-model-v2-stash`: carry the unfinished v2 trainings across a fresh checkout. Copies
# each run folder's last.ckpt, best checkpoint so far and logs into
# experiments/default_model_v2/resume/<run>/ (stash_run in default_model_v2_common.sh), to be
# committed; a finished run's stash is removed. The recipes restore a stashed run when the checkout
# lacks it, and resume it from there. Safe beside a running training (copies are compared).
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

shopt -s nullglob
for d in $V2/*/; do
	stash_run "${d%/}"
done
for s in $STASH/*/; do  # a stash whose run finished in this checkout goes too
	d=$V2/$(basename "$s")
	[[ -f $d/best.safetensors ]] && { rm -rf "$s"; echo "removed the stash of finished $d"; }
done
git status --short -- "$STASH"
