"""The inference model: encoder + head set, built from a (plain or Hydra) config."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from drumtx.vocab import Vocabulary


class DrumTranscriber(nn.Module):
    """``forward(mel (B, n_mels, T)) -> {head: logits (B, T, classes)}``.

    Decoding goes through the head set (``instrument_probs``, ``fine_probs``, ``velocity_probs``)
    so that callers never depend on which heads a model has.
    """

    def __init__(self, encoder: nn.Module, heads: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.heads = heads

    @property
    def vocab(self) -> Vocabulary:
        return self.heads.vocab

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.heads(self.encoder(mel, mask))

    def instrument_probs(
        self, logits: Mapping[str, torch.Tensor]
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return self.heads.instrument_probs(logits)

    def fine_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.heads.fine_probs(logits)

    @property
    def has_velocity(self) -> bool:
        """Whether the model has a velocity head (``branches.velocity``; False for models saved
        before velocity existed)."""
        return bool(getattr(self.heads, "has_velocity", False))

    def velocity_probs(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """(B, T, C) predicted MIDI velocity / 127 per fine class, or None without a velocity head."""
        return self.heads.velocity_probs(logits) if self.has_velocity else None


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_transcriber(cfg: Mapping) -> DrumTranscriber:
    """Encoder from ``cfg.encoder``, heads from ``cfg.branches`` (with the encoder's width and
    the vocabulary's pedal switch ``cfg.data.targets.hihat_pedal``)."""
    cfg = _plain(cfg)
    encoder = instantiate(cfg["encoder"])
    hihat_pedal = bool(cfg.get("data", {}).get("targets", {}).get("hihat_pedal", False))
    heads = instantiate(cfg["branches"], in_dim=encoder.out_dim, hihat_pedal=hihat_pedal)
    return DrumTranscriber(encoder, heads)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: DrumTranscriber) -> dict[str, int]:
    """Parameter counts: encoder (conv / LSTM), every head, total."""
    out = {
        "encoder.cnn": count_parameters(model.encoder.cnn),
        "encoder.rnn": count_parameters(model.encoder.rnn),
    }
    for name, mod in model.heads.named_children():
        if isinstance(mod, nn.ModuleDict):
            out.update({f"heads.{k}": count_parameters(v) for k, v in mod.items()})
        else:
            out[f"heads.{name}"] = count_parameters(mod)
    out["encoder"] = count_parameters(model.encoder)
    out["heads"] = count_parameters(model.heads)
    out["total"] = count_parameters(model)
    return out
