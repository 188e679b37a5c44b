"""Sampled drum kits: Hydrogen and SFZ readers (:mod:`.formats`), the sample player
(:mod:`.player`) and unlabelled percussion distractors (:mod:`.distractors`)."""

from drumtx.synth.sampled.formats import Instrument, Region, SampledKitError, SampleKit, read_kit
from drumtx.synth.sampled.player import SamplePlayer

__all__ = ["Instrument", "Region", "SampleKit", "SampledKitError", "SamplePlayer", "read_kit"]
