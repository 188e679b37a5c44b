"""Models: the shared CRNN encoder, the head sets, the loss and the Lightning module."""

from drumtx.models.encoder import CRNNEncoder
from drumtx.models.heads import FiveBranchHeads, FlatHead, HeadSpec
from drumtx.models.losses import DrumLoss
from drumtx.models.transcriber import DrumTranscriber, build_transcriber, count_parameters, parameter_table

__all__ = [
    "CRNNEncoder",
    "DrumLoss",
    "DrumTranscriber",
    "FiveBranchHeads",
    "FlatHead",
    "HeadSpec",
    "build_transcriber",
    "count_parameters",
    "parameter_table",
]
