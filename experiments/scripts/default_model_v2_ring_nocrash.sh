#!/usr/bin/env bash
# Ringing hi-hats and rides beside dry crashes (experiments/default_model_v2/README.md, the ring
# arm's result): `make default-model-v2-ring-nocrash [ARGS="…"]`, after
# `make default-model-v2-candidate` (its stash suffices on a fresh clone).
# Why: with every cymbal ringing long and dark (the ring arm), the crash head learnt that long,
# dark cymbals are crashes and called 1,054-1,298 crashes on h2_forzee_stereo's hats and ride for
# 246 played. The change (one, the data): data=synth_songs_ring_nocrash, the ring arm's tracks and
# draws with the crashes left dry (data.synth.production.cymbal_ring_pieces=[hihat_open, ride]).
# The candidate's recipe on it, seeds 42 and 43 side by side (data_arm: tuned and scored on
# synth_songs' rungs beside the candidate). The question: crash precision on rung (b) above the
# candidate's (h2_forzee_stereo above all), at its overall F. A checkout with a synth_songs_ring
# render links the tracks drawn no ring from it (about half). Arguments: Hydra overrides for both
# trainings.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/default_model_v2_common.sh"

ARM_REUSE=synth_songs_ring data_arm ring_nocrash synth_songs_ring_nocrash \
	"Hi-hats and rides ringing long and dark, crashes dry, on half the tracks (synth_songs_ring_nocrash) against the candidate (synth_songs), same recipe, two seeds each" "$@"
