"""The model input: a log-mel spectrogram computed with torchaudio.

Every parameter comes from the ``features`` config group, and :meth:`LogMel.config_dict`
is what keys the feature cache, so changing any of them never reuses stale features.
Frame ``t`` is centred at ``t / fps`` seconds (``center=True``); an onset at ``s`` seconds
belongs to frame ``round(s * fps)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

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


def iter_log_mel(path, features: LogMel, block_seconds: float = 60.0) -> Iterator[np.ndarray]:
    """The log-mel of an audio file in consecutive pieces, decoding one block at a time.

    The pieces, concatenated along time, are bit for bit ``features.compute(load_audio(path, sr))``
    (what the feature cache stores before rounding to float16): each block is read with a margin
    on both sides, resampled and transformed whole, and only frames whose STFT window and
    resampling filter lie inside it (or reach the file's own edges) are kept. Block starts sit
    where the resampler's phase and the hop both restart, so no frame is shifted. Memory stays
    flat in file length.

    Args:
        path: any file soundfile reads (WAV, FLAC, OGG, MP3, AIFF), any rate and channel count.
        features: the :class:`LogMel` (its ``sample_rate``, ``hop_length``, ``n_fft``).
        block_seconds: decoded at a time (rounded to the alignment step, at least one step).

    Yields:
        float32 ``(n_mels, k)`` pieces; ``n_frames(resampled length)`` frames in all.

    Raises:
        drumtx.audio.AudioError: missing, unreadable, zero-length or non-finite audio (one line).
    """
    from drumtx.audio import AudioError, _check, _one_line, _open, _to_mono, resample

    sr, hop = features.sample_rate, features.hop_length
    with _open(path) as f:
        orig_sr, n_in = int(f.samplerate), int(f.frames)
        if n_in <= 0 or orig_sr <= 0:
            raise AudioError(f"{path}: zero-length audio")
        g = math.gcd(orig_sr, sr)
        up, down = sr // g, orig_sr // g  # output samples per `down` input samples
        step_out = math.lcm(hop, up)  # output starts on the hop grid and on a resampler phase 0
        step_in = step_out // up * down
        n_out = -(-n_in * up // down)  # torchaudio's resampled length, ceil(n * sr / orig_sr)
        n_frames = n_out // hop + 1
        block = max(1, round(block_seconds * orig_sr / step_in)) * step_in
        # Margin in output samples: the STFT window (n_fft / 2 each side) plus the resampler's
        # sinc (6 zero crossings at the lower rate), rounded up to whole steps.
        need_out = features.n_fft + 6 * max(1, -(-up // max(1, min(up, down)))) + 64
        margin = -(-need_out // step_out) * step_in
        start = 0
        while start < n_in:
            end = min(n_in, start + block)
            a, b = max(0, start - margin), min(n_in, end + margin)
            f.seek(a)
            try:
                data = f.read(b - a, dtype="float32", always_2d=True)
            except Exception as exc:
                raise AudioError(
                    f"{path}: unreadable audio at {a / orig_sr:.2f} s ({_one_line(exc)})"
                ) from None
            if len(data) != b - a:
                raise AudioError(f"{path}: unreadable audio at {a / orig_sr:.2f} s (file ends early)")
            wave = resample(_check(path, _to_mono(data)), orig_sr, sr)
            if wave.shape[0] <= features.n_fft // 2:  # a whole file too short for the STFT's reflect padding
                wave = np.pad(wave, (0, features.n_fft - wave.shape[0]))
            mel = features.compute(wave)
            f0 = a // down * up // hop  # frame of the piece's first sample
            lo = start // down * up // hop
            hi = n_frames if end == n_in else end // down * up // hop
            yield mel[:, lo - f0 : hi - f0]
            start = end
