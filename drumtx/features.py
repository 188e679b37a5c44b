"""The model input: a log-mel spectrogram computed with torchaudio.

Every parameter comes from the ``features`` config group, and :meth:`LogMel.config_dict`
is what keys the feature cache, so changing any of them never reuses stale features.
Frame ``t`` is centred at ``t / fps`` seconds (``center=True``); an onset at ``s`` seconds
belongs to frame ``round(s * fps)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torchaudio.transforms import MelSpectrogram


class LogMel(nn.Module):
    """Waveform ``(..., N)`` at ``sample_rate`` -> ``log(log_eps + mel power)`` ``(..., n_mels, N // hop + 1)``."""

    def __init__(
        self,
        sample_rate: int = 24000,
        hop_length: int = 240,
        n_fft: int = 1024,
        n_mels: int = 128,
        f_min: float = 20.0,
        f_max: float = 11000.0,
        log_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if f_max > sample_rate / 2:
            raise ValueError(f"f_max {f_max} Hz is above the Nyquist frequency of {sample_rate} Hz audio")
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.n_fft = int(n_fft)
        self.n_mels = int(n_mels)
        self.f_min = float(f_min)
        self.f_max = float(f_max)
        self.log_eps = float(log_eps)
        self.mel = MelSpectrogram(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            f_min=self.f_min,
            f_max=self.f_max,
            center=True,
            power=2.0,
        )

    @property
    def fps(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def silence(self) -> float:
        """The value of a silent bin: what padding and masking fill with."""
        return math.log(self.log_eps)

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mel(wave) + self.log_eps)

    @torch.no_grad()
    def compute(self, wave: np.ndarray) -> np.ndarray:
        """Numpy convenience for the cache: float32 ``(N,)`` -> float32 ``(n_mels, T)``."""
        return self.forward(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))).numpy()

    def config_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "n_fft": self.n_fft,
            "n_mels": self.n_mels,
            "f_min": self.f_min,
            "f_max": self.f_max,
            "log_eps": self.log_eps,
        }

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config_dict().items())
