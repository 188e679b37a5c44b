"""Render-time variety: velocity curve, EQ tilt, a short synthetic room, and level.

E-GMD varies the kit only; sound fonts are dry, close-miked and all mastered alike, so a
model trained on them alone learns the fonts' one room. Each track therefore gets its
own draw (seeded by the track, so a re-render is identical) of:

* a drum module's **velocity curve** (how hard soft notes sound; the MIDI keeps its velocity),
* an **EQ tilt**: a low shelf and a high shelf (RBJ biquads, as torchaudio's, filtered by scipy),
* a **room**: convolution (scipy) with exponentially decaying, low-passed noise, mixed in
  at a random level after a short pre-delay,
* a random **peak level** (the gain).

This is the chain of the older recipes (``data.synth.variety``: synth_default, synth_gmd,
synth_gmd_dry), kept as it is so they render byte-identically (tests/test_synth_songs.py
checks a tiny render's hash). Recipes with ``data.synth.production`` use
:mod:`drumtx.synth.production` instead, where the EQ is pedalboard's and the room is a
pyroomacoustics shoebox with close and overhead mics rather than decaying noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from drumtx.synth.config import config_from_mapping


@dataclass
class VarietyConfig:
    """``data.synth.variety``: ranges are [low, high], drawn uniformly per track."""

    #: Where the block sits in a config (errors name it; drumtx.cli finds its settings by it).
    WHERE: ClassVar[str] = "data.synth.variety"

    velocity_curve: list[float] = field(default_factory=lambda: [0.55, 0.9])
    peak_db: list[float] = field(default_factory=lambda: [-12.0, -1.0])
    eq_prob: float = 0.8
    bass_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    bass_hz: list[float] = field(default_factory=lambda: [60.0, 250.0])
    treble_db: list[float] = field(default_factory=lambda: [-9.0, 4.0])
    treble_hz: list[float] = field(default_factory=lambda: [2500.0, 8000.0])
    reverb_prob: float = 0.6
    rt60_s: list[float] = field(default_factory=lambda: [0.15, 0.9])
    wet_db: list[float] = field(default_factory=lambda: [-22.0, -8.0])  # reverb level re the dry signal
    predelay_ms: list[float] = field(default_factory=lambda: [0.0, 20.0])
    damping_hz: list[float] = field(default_factory=lambda: [3000.0, 9000.0])  # reverb tail low-pass

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> VarietyConfig:
        """The block's settings over the defaults; ``ValueError`` (one line) for an unknown key or
        a ``*_prob`` outside [0, 1]."""
        return config_from_mapping(cls, cfg, cls.WHERE)


def draw(cfg: VarietyConfig, rng: np.random.Generator) -> dict:
    """One track's variety settings (plain floats: they go into logs and the recipe check)."""

    def u(rng_range):
        lo, hi = rng_range
        return float(rng.uniform(lo, hi))

    params = {"velocity_curve": u(cfg.velocity_curve), "peak_db": u(cfg.peak_db)}
    if rng.random() < cfg.eq_prob:
        params["eq"] = {"bass_db": u(cfg.bass_db), "bass_hz": u(cfg.bass_hz),
                        "treble_db": u(cfg.treble_db), "treble_hz": u(cfg.treble_hz)}
    if rng.random() < cfg.reverb_prob:
        params["reverb"] = {"rt60_s": u(cfg.rt60_s), "wet_db": u(cfg.wet_db), "predelay_ms": u(cfg.predelay_ms),
                            "damping_hz": u(cfg.damping_hz), "seed": int(rng.integers(2**31))}
    return params


def apply(audio: np.ndarray, sr: int, params: Mapping) -> np.ndarray:
    """EQ, room and level of ``params`` (from :func:`draw`) applied to mono float32 audio."""
    out = audio.astype(np.float32, copy=True)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= 0.25 / peak  # a fixed working level, so the effects see the same scale on every kit
    if "eq" in params:
        out = eq_tilt(out, sr, **params["eq"])
    if "reverb" in params:
        out = room(out, sr, **params["reverb"])
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= 10 ** (params.get("peak_db", -1.0) / 20) / peak
    return out.astype(np.float32)


def shelf_coefficients(kind: str, sr: int, gain_db: float, freq: float, q: float = 0.707):
    """RBJ Audio-EQ-Cookbook shelving biquad ``(b, a)``: the filters torchaudio's
    ``bass_biquad`` / ``treble_biquad`` apply (a test checks they match).

    Written out because torchaudio exposes no coefficient function and its ``lfilter``
    runs ~10x slower than scipy's on a 30 s track; render workers then need no torch.
    """
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sr
    alpha = np.sin(w0) / (2 * q)
    cos, sq = np.cos(w0), 2 * np.sqrt(a_) * alpha
    sign = -1 if kind == "low" else 1
    b = np.array([a_ * ((a_ + 1) + sign * (a_ - 1) * cos + sq),
                  -2 * sign * a_ * ((a_ - 1) + sign * (a_ + 1) * cos),
                  a_ * ((a_ + 1) + sign * (a_ - 1) * cos - sq)])
    a = np.array([(a_ + 1) - sign * (a_ - 1) * cos + sq,
                  2 * sign * ((a_ - 1) - sign * (a_ + 1) * cos),
                  (a_ + 1) - sign * (a_ - 1) * cos - sq])
    return b / a[0], a / a[0]


def eq_tilt(audio: np.ndarray, sr: int, bass_db: float, bass_hz: float, treble_db: float, treble_hz: float) -> np.ndarray:
    """Low shelf + high shelf (RBJ biquads, filtered with scipy)."""
    from scipy.signal import lfilter

    out = lfilter(*shelf_coefficients("low", sr, bass_db, bass_hz), audio)
    out = lfilter(*shelf_coefficients("high", sr, treble_db, min(treble_hz, 0.45 * sr)), out)
    return out.astype(np.float32)


def room(audio: np.ndarray, sr: int, rt60_s: float, wet_db: float, predelay_ms: float, damping_hz: float,
         seed: int) -> np.ndarray:
    """Dry signal plus a convolution with decaying noise (a cheap diffuse room, no early reflections)."""
    from scipy.signal import butter, oaconvolve, sosfilt

    rng = np.random.default_rng(seed)
    n = max(1, int(rt60_s * sr))
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60_s)  # -60 dB at rt60
    ir = sosfilt(butter(2, min(damping_hz, 0.45 * sr), fs=sr, output="sos"), ir)
    ir = np.concatenate([np.zeros(int(predelay_ms / 1000 * sr)), ir])
    wet = oaconvolve(audio, ir)[: audio.size]
    dry_rms, wet_rms = np.sqrt(np.mean(audio**2)), np.sqrt(np.mean(wet**2))
    if wet_rms <= 0 or dry_rms <= 0:
        return audio
    return (audio + wet * (dry_rms / wet_rms) * 10 ** (wet_db / 20)).astype(np.float32)
