#!/usr/bin/env bash
# Hard negatives from the first step (experiments/default_model_v2/README.md, the hard-negative
# arm): `make default-model-v2-hardneg-scratch [ARGS="…"]`, after `make default-model-v2-candidate`.
# The hard-negative arm continued the 7,000-step seeds by 1,000 steps with
# loss.crash_cymbal_negative_weight=5 (the crash's loss x5 on frames where a hi-hat or ride is struck
# without a crash): crash precision rose 3-8 points on every unseen rung against its control at
# equal overall F, an effect smaller than the seed spread within 1,000 steps. Here the candidate's
# recipe (from scratch, crnn_small, music-only tracks x4, 3,500 steps, seeds 42 and 43 side by
# side) carries the weight from step 0 on synth_songs, so the crash head never learns to take hats
# and rides for crashes; scored beside the candidate's two seeds on every rung (data_arm in
# default_model_v2_common.sh). ~3.7 h of training on 2 cores, resumable with make
# default-model-v2-stash. Arguments: Hydra overrides for both trainings (after the weight, so
# ARGS="loss.crash_cymbal_negative_weight=8" tries another).
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

data_arm hardneg_scratch synth_songs \
	"Hard negatives for the crash from step 0 (x5 on hi-hat and ride frames) against the candidate, same recipe, two seeds each" \
	loss.crash_cymbal_negative_weight=5 "$@"
