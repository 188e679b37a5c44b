#!/usr/bin/env bash
# Training crops that start on silence (experiments/default_model_v2/README.md, "Lead silence in
# training"): `make default-model-v2-leadsil [ARGS="…"]`, after `make default-model-v2-electronic`
# (its stash suffices on a fresh clone: both seeds' bundles and reports).
# Why: a hit on a file's first frame is missed (experiments/edge_silence: the shipped v2 finds the
# first hit of 65.8 % of the tracks that start on one); giving the shipped model silence around a
# file at inference finds more of them but invents onsets at the edges of short fills, silence it
# never heard in training. The change (one): data.lead_silence_prob=0.1, a tenth of the training
# crops start 1 frame to 1 s before the track, on silence (drumtx.data.datamodule.CropDataset);
# else the electronic arm's recipe (the candidate's: from scratch, music-only tracks x4, 3,500
# steps, on synth_songs_electronic; seeds 42 and 43 side by side, one core each: ~5 h on the 2-core
# machine, resumable across sessions with make default-model-v2-stash). Such a model hears its
# 1 s lead around every file at inference by default (inference.edge_silence_seconds null), so
# every rung below scores it as transcribe runs it. Then, beside the electronic arm's two seeds:
# every rung (two lanes), rung (e), and experiments/edge_silence's two measures of each model at
# its own edge silence (the electronic arm also at 1.5 s): first hits found (first_hit.py) and
# onsets of grooves and fills on synth_songs_electronic's validation tracks (table.py, ΔF with a
# paired-bootstrap interval). Arguments: Hydra overrides for both trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

OUT=experiments/default_model_v2/leadsil
beside_arm leadsil "lead silence" electronic electronic \
	"$CANDIDATE_RECIPE callbacks.step_budget.max_steps=3500 data=synth_songs_electronic data.lead_silence_prob=0.1" \
	"Training crops that start on silence (data.lead_silence_prob=0.1) against the electronic arm, same recipe, two seeds each" "$@"

# experiments/edge_silence's measures: first hits, then grooves and fills on the validation tracks
"$PY" -m drumtx.synth data=synth_songs_electronic workers="${WORKERS:-2}" 'splits=[validation,test]'
"$PY" -m drumtx.prepare data=synth_songs_electronic 'splits=[validation,test]'
mkdir -p $OUT
: > $OUT/first_hit.txt.tmp
for run in electronic_w4_s42 electronic_w4_s43 leadsil_w4_s42 leadsil_w4_s43; do
	"$PY" experiments/edge_silence/first_hit.py --ckpt $V2/$run/best.safetensors >> $OUT/first_hit.txt.tmp
done
mv $OUT/first_hit.txt.tmp $OUT/first_hit.txt
reports=()
for spec in electronic_w4_s42=0 electronic_w4_s42=1.5 leadsil_w4_s42= electronic_w4_s43=0 electronic_w4_s43=1.5 leadsil_w4_s43=; do
	run=${spec%%=*} edge=${spec#*=}
	out=$V2/$run/edge_validation_${edge:-own}
	if [[ ! -f $out/metrics.json ]]; then
		"$PY" -m drumtx.evaluate ckpt=$V2/$run/best.safetensors data=synth_songs_electronic split=validation \
			${edge:+"inference.edge_silence_seconds=$edge"} out_dir="$out" torch_threads=1
	fi
	reports+=("$run edge ${edge:-own}=$out/metrics.json")
done
{
	echo "#### validation of synth_songs_electronic: every kit family, with and without music, music alone"
	echo
	echo "(ΔF against the first row; \"own\": the model's own edge silence, its 1 s training lead)"
	echo
	"$PY" experiments/edge_silence/table.py "${reports[@]}"
} > $OUT/fills.md.tmp
mv $OUT/fills.md.tmp $OUT/fills.md
cat $OUT/first_hit.txt $OUT/fills.md
