"""The model input: a log-mel spectrogram computed with torchaudio.

Every parameter comes from the ``features`` config group, and :meth:`LogMel.config_dict`
is what keys the feature cache, so changing any of them never reuses stale features.
Frame ``t`` is centred at ``t / fps`` seconds (``center=True``); an onset at ``s`` seconds
belongs to frame ``round(s * fps)``.

**Level.** The features of a whole track are levelled (:func:`levelled_log_mel`): its samples
are scaled so that its loudest log-mel bin sits at ``level_db`` (dB re the loudest bin of a
full-scale 1 kHz sine, :func:`full_scale_ref`; at most ``max_gain_db`` up). This happens in
float32, before the feature cache (and the streamed copy of an audio file,
:func:`drumtx.inference.file_mel`) rounds to float16, so a take at -60 dBFS keeps its detail
and reaches the model as a loud one does (case C17). Training, evaluation, threshold tuning
and transcription all see levelled features.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torchaudio.transforms import MelSpectrogram


class LogMel(nn.Module):
    """Waveform ``(..., N)`` at ``sample_rate`` -> ``log(log_eps + mel power)`` ``(..., n_mels, N // hop + 1)``.

    ``level_db`` (dB re a full-scale 1 kHz sine's loudest bin; None: off) and ``max_gain_db``
    (the most a quiet track is raised) are the whole-track levelling of :func:`levelled_log_mel`;
    a model's meta without them (models packaged before they existed) gets the defaults.
    """

    def __init__(
        self,
        sample_rate: int = 24000,
        hop_length: int = 240,
        n_fft: int = 1024,
        n_mels: int = 128,
        f_min: float = 20.0,
        f_max: float = 11000.0,
        log_eps: float = 1e-5,
        level_db: float | None = -15.0,
        max_gain_db: float = 60.0,
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
        self.level_db = None if level_db is None else float(level_db)
        if self.level_db is not None and not math.isfinite(self.level_db):
            raise ValueError(f"level_db must be a finite number of dB (or None: off), got {level_db}")
        self.max_gain_db = float(max_gain_db)
        if not self.max_gain_db >= 0:
            raise ValueError(f"max_gain_db must be >= 0 dB, got {max_gain_db}")
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
        """The log-mel as it comes, not levelled (levelling needs the whole track: :func:`levelled_log_mel`)."""
        return torch.log(self.mel(wave) + self.log_eps)

    @torch.no_grad()
    def compute(self, wave: np.ndarray) -> np.ndarray:
        """Numpy convenience: float32 ``(N,)`` -> float32 ``(n_mels, T)``, not levelled."""
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
            "level_db": self.level_db,
            "max_gain_db": self.max_gain_db,
        }

    def mel_config(self) -> dict:
        """:meth:`config_dict` without the levelling keys: what the log-mel itself depends on."""
        return {k: v for k, v in self.config_dict().items() if k not in ("level_db", "max_gain_db")}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config_dict().items())


def features_from_meta(meta: dict) -> LogMel:
    """The :class:`LogMel` a model was trained with, from its bundle meta (``meta["features"]``,
    or ``meta["config"]["features"]`` in older bundles).

    Keys a bundle lacks take :class:`LogMel`'s defaults: a model packaged before levelling was a
    feature setting gets ``level_db=-15`` (levelling on) at inference and as a fine-tuning source.
    Unknown keys (``_target_``) are ignored.
    """
    cfg = meta.get("features") or meta.get("config", {}).get("features") or {}
    accepted = set(inspect.signature(LogMel.__init__).parameters) - {"self"}
    return LogMel(**{k: v for k, v in cfg.items() if k in accepted})


# ------------------------------------------------------------------------------------------- level
@lru_cache(maxsize=8)
def _full_scale_ref(mel_key: tuple) -> float:
    features = LogMel(**dict(mel_key))
    sr = features.sample_rate
    t = torch.arange(int(0.2 * sr), dtype=torch.float32) / sr
    return float(features(torch.sin(2 * math.pi * 1000.0 * t)).max())


def full_scale_ref(features: LogMel) -> float:
    """The loudest log-mel bin of a full-scale 1 kHz sine under ``features``: 0 dB of every
    level and gate (natural log of mel power)."""
    return _full_scale_ref(tuple(sorted(features.mel_config().items())))


def db_to_mel(db: float, features: LogMel) -> float:
    """The log-mel value ``db`` dB relative to :func:`full_scale_ref` (log-mel is natural log of power)."""
    return full_scale_ref(features) + db / 10.0 * math.log(10.0)


def mel_level_db(mel_max: float, features: LogMel) -> float:
    """The level (dB re :func:`full_scale_ref`) of a track whose loudest log-mel bin is ``mel_max``."""
    return (float(mel_max) - full_scale_ref(features)) * 10.0 / math.log(10.0)


def level_gain_db(level_db: float, features: LogMel) -> float:
    """The gain (dB) that moves a track at ``level_db`` to ``features.level_db``, at most
    ``features.max_gain_db`` up; 0 when levelling is off (``level_db`` None)."""
    if features.level_db is None:
        return 0.0
    return float(min(features.level_db - level_db, features.max_gain_db))


def wave_gain(gain_db: float) -> np.float32:
    """The amplitude factor of ``gain_db`` as the float32 every path multiplies samples by."""
    return np.float32(10.0 ** (gain_db / 20.0))


def levelled_log_mel(wave: np.ndarray, features: LogMel) -> tuple[np.ndarray, float, float]:
    """The levelled log-mel of a whole track (see the module docstring): the one place the
    level of a waveform in memory is computed and applied.

    The level is the loudest bin of ``features.compute(wave)``; the gain is applied to the
    samples (``wave * wave_gain(gain_db)``, float32) and the log-mel computed again. Scaling
    the waveform, rather than the float32 log-mel (``log(eps + g * (exp(mel) - eps))``), keeps
    a quiet take's bins near the ``log(log_eps)`` floor exact: on case C17 the -60 dBFS take,
    levelled, differs from the loud take by at most 0.008 nats (one float16 step) this way and
    by up to 0.094 nats (mean 0.013) the other way (``experiments/inference_path``).
    :func:`iter_log_mel` with ``gain_db`` gives the same bits for an audio file.

    Args:
        wave: mono float32 samples ``(N,)`` at ``features.sample_rate``.
        features: the :class:`LogMel` (``level_db``, ``max_gain_db``).

    Returns:
        ``(log-mel float32 (n_mels, T), level_db, gain_db)``: the track's level before levelling
        (dB re :func:`full_scale_ref`) and the gain applied (dB; 0 when levelling is off).
    """
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    mel = features.compute(wave)
    level = mel_level_db(float(mel.max()), features)
    gain = level_gain_db(level, features)
    if gain != 0.0:
        mel = features.compute(wave * wave_gain(gain))
    return mel, level, gain


def iter_log_mel(
    path, features: LogMel, block_seconds: float = 60.0, gain_db: float = 0.0, frames: int | None = None
) -> Iterator[np.ndarray]:
    """The log-mel of an audio file in consecutive pieces, decoding one block at a time.

    The pieces, concatenated along time, are bit for bit ``features.compute(load_audio(path, sr))``
    (with ``gain_db``: bit for bit the log-mel :func:`levelled_log_mel` gives, which the feature
    cache rounds to float16): each block is read with a margin
    on both sides, resampled and transformed whole, and only frames whose STFT window and
    resampling filter lie inside it (or reach the file's own edges) are kept. Block starts sit
    where the resampler's phase and the hop both restart, so no frame is shifted. Memory stays
    flat in file length.

    Args:
        path: any file soundfile reads (WAV, FLAC, OGG, MP3, AIFF), any rate and channel count.
        features: the :class:`LogMel` (its ``sample_rate``, ``hop_length``, ``n_fft``).
        block_seconds: decoded at a time (rounded to the alignment step, at least one step).
        gain_db: samples are scaled by :func:`wave_gain` of this after resampling, as
            :func:`levelled_log_mel` scales the whole track (0: as they are).
        frames: use only the file's first ``frames`` samples (at its own rate), as if it ended
            there (what decodes of a file that raised :class:`drumtx.audio.PartlyDecodable`).

    Yields:
        float32 ``(n_mels, k)`` pieces; ``n_frames(resampled length)`` frames in all.

    Raises:
        drumtx.audio.PartlyDecodable: decoding failed partway (``frames`` of it decode).
        drumtx.audio.AudioError: missing, unreadable, zero-length or non-finite audio (one line).
    """
    from drumtx.audio import (
        AudioError,
        PartlyDecodable,
        _c_stderr_silenced,
        _check,
        _open,
        _to_mono,
        decodable_frames,
        resample,
        resample_tail,
        resampled_length,
        truncation,
    )
    from drumtx.errors import exception_line

    sr, hop = features.sample_rate, features.hop_length
    with _open(path) as f:
        orig_sr, n_in = int(f.samplerate), int(f.frames)
        # libmpg123 prints "Warning: Xing stream size off …" to descriptor 2 when it seeks in a
        # cut-off MP3; only MP3 reads are wrapped (the silencing is process-wide)
        quiet_decoder = _c_stderr_silenced if f.format == "MP3" else contextlib.nullcontext
        if frames is not None:
            n_in = min(n_in, int(frames))
        if n_in <= 0 or orig_sr <= 0:
            cut = truncation(path)  # a WAV of its header alone: say so
            raise AudioError(f"{path}: zero-length audio" + (f" ({cut})" if cut else ""))
        g = math.gcd(orig_sr, sr)
        up, down = sr // g, orig_sr // g  # output samples per `down` input samples
        step_out = math.lcm(hop, up)  # output starts on the hop grid and on a resampler phase 0
        step_in = step_out // up * down
        n_out = resampled_length(n_in, orig_sr, sr)  # the whole file's, as load_audio resamples it
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
            try:
                with quiet_decoder():
                    f.seek(a)
                    data = f.read(b - a, dtype="float32", always_2d=True)
                reason = None if len(data) == b - a else "file ends early"  # a cut-off MP3 reads short
            except Exception as exc:
                reason = exception_line(exc)
            if reason is not None:
                with quiet_decoder():
                    ok = decodable_frames(f) if frames is None else 0
                if 0 < ok < n_in:
                    raise PartlyDecodable(path, ok, n_in, orig_sr, reason) from None
                raise AudioError(f"{path}: unreadable audio at {a / orig_sr:.2f} s of its {n_in / orig_sr:.1f} s, "
                                 f"cut off or damaged ({reason})") from None
            mono = _check(path, _to_mono(data))
            if b == n_in:  # the file's end: exactly as long as the whole file's resampling
                wave = resample_tail(mono, orig_sr, sr, n_out - a // down * up)
            else:
                wave = resample(mono, orig_sr, sr)
            if gain_db != 0.0:
                wave = wave * wave_gain(gain_db)
            if wave.shape[0] <= features.n_fft // 2:  # a whole file too short for the STFT's reflect padding
                wave = np.pad(wave, (0, features.n_fft - wave.shape[0]))
            mel = features.compute(wave)
            f0 = a // down * up // hop  # frame of the piece's first sample
            lo = start // down * up // hop
            hi = n_frames if end == n_in else end // down * up // hop
            yield mel[:, lo - f0 : hi - f0]
            start = end
