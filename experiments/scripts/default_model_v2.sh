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
#  6. the run with the highest validation PR-AUC of those whose thresholds hold every precision
#     floor: v1 against it on every rung and on the old synth_gmd test splits, and it packaged as
#     drumtx/assets/default_model.* (the card's hand-written notes are not written here: rerun
#     that package_model command with --note …). The shipped v2 is the next step's:
#     `make default-model-v2-music` (default_model_v2_music.sh).
# Every step skips what is already done and a training resumes from its last.ckpt, so the recipe
# can be rerun across sessions until it completes. Arguments: Hydra overrides for every training.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

LONG_STEPS=3000
pinned_v1  # (fine-tuning starts from it)

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
	tune "$run"
	score "$run"
done

# 6. the run to ship: of the runs whose tuned thresholds hold every precision floor on validation
# (the crash's: a false crash is jarring in a game), the highest validation PR-AUC; shipped
# (default_model_v2_common.sh: summary against v1, synth_gmd, package) until
# default_model_v2_music.sh ships its music-weighted continuation in its place. (Seed 43 at 3,000 steps has the higher PR-AUC, 0.628 against
# 0.609, but no crash threshold of it holds the floor: F0.5 fallback, validation P 0.68.)
BEST=$("$PY" - "${RUNS[@]/#/$V2/}" <<'PYEOF'
import json, sys
def floors_held(run):
    results = json.load(open(f"{run}/best.json"))["threshold_tuning"]["results"]
    return all(r.get("constraint_met") is not False for r in results.values())
def pr_auc(run):
    return json.load(open(f"{run}/metrics.json"))["value"]
runs = sys.argv[1:]
held = [r for r in runs if floors_held(r)]
if not held:
    sys.exit("no run holds every precision floor on validation: none to ship")
print(max(held, key=pr_auc))
PYEOF
)
ship "$BEST" "make default-model-v2  # experiment=default_model_v2 (experiments/scripts/default_model_v2.sh)"
