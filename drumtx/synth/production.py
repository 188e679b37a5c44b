"""A per-track production chain: room and close/overhead mics, bus compression, EQ,
saturation/clipping, limiting to a mastered loudness, a lossy codec and the final level.

Sound-font and sample renders are dry, close-miked and all mastered alike; records are not.
Each track draws its own chain (:func:`draw`, seeded by the track, so a re-render is
byte-identical) from the ranges of ``data.synth.production`` (:class:`ProductionConfig`)
and :func:`drum_bus` / :func:`master` apply it. The DSP is the libraries', not ours:

* **room**: a shoebox room of random size and absorption (``pyroomacoustics``' image-source
  impulse responses, ``inverse_sabine`` for a drawn RT60) with the kit at a random spot, a
  close mic and an overhead/room mic at drawn distances, mixed at a drawn balance;
* **bus compression**, **EQ** (high-pass, shelves, a peak), **saturation** (``Distortion``),
  **clipping**, **limiting** (``Limiter``): ``pedalboard`` (JUCE DSP);
* **loudness**: ITU-R BS.1770 integrated loudness (``pyloudnorm``) to a drawn mastered level;
* **codec**: MP3 (LAME) or Ogg Vorbis at a drawn bit rate, encoded and decoded in memory by
  ``pedalboard.io.AudioFile`` at ``codec_rate``.

Label timing: the room's impulse responses are trimmed so the close mic's direct sound lands
on the dry signal's sample (the overhead arrives its extra path later: 1-7 ms, as on a real
kit), the codec's encoder + decoder delay (1,105 samples for LAME at 48 kHz, 0 for Vorbis) is
measured per track by cross-correlation and removed, pedalboard's compressor and limiter
have no look-ahead. ``tests/test_synth_production.py`` checks every onset stays within 3 ms.

:mod:`drumtx.synth.effects` stays the chain of the older recipes (``variety:``), so they
render byte-identically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from drumtx.synth.config import config_from_mapping
from drumtx.synth.kits import CYMBAL_PIECES, MAX_SHIFT_SEMITONES

CODECS = ("mp3", "ogg")
#: Bit rates pedalboard's Vorbis encoder accepts; MP3 takes any of the standard ones.
BITRATES_KBPS = (64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
#: The cymbals that may ring on (cymbal_ring_pieces; their notes: drumtx.synth.dataset.RING_NOTES).
RING_PIECES = ("hihat_open", "ride", "crash")
WORKING_PEAK = 0.25  # the drum bus's fixed working level before the chain (-12 dBFS)
MAX_CODEC_LAG_S = 0.1  # search window for the codec delay


class ProductionError(ValueError):
    """``data.synth.production`` has an unknown key or a bad range."""


@dataclass
class ProductionConfig:
    """``data.synth.production``: ``*_prob`` switch a stage on per track; [low, high] ranges
    are drawn uniformly per track."""

    #: Where the block sits in a config (errors name it; drumtx.cli finds its settings by it).
    WHERE: ClassVar[str] = "data.synth.production"

    velocity_curve: list[float] = field(default_factory=lambda: [0.55, 0.9])  # see KitRenderer.render
    room_prob: float = 0.7
    room_length_m: list[float] = field(default_factory=lambda: [3.0, 16.0])
    room_width_m: list[float] = field(default_factory=lambda: [3.0, 12.0])
    room_height_m: list[float] = field(default_factory=lambda: [2.4, 6.0])
    rt60_s: list[float] = field(default_factory=lambda: [0.2, 1.2])
    max_order: int = 16  # image-source order (longer rooms get the rest of their tail cut)
    close_mic_m: list[float] = field(default_factory=lambda: [0.15, 0.6])  # kit to close mic
    overhead_m: list[float] = field(default_factory=lambda: [0.8, 2.5])  # kit to overhead/room mic
    overhead_db: list[float] = field(default_factory=lambda: [-15.0, 6.0])  # overhead re close mic (RMS)
    compress_prob: float = 0.6
    threshold_db: list[float] = field(default_factory=lambda: [-30.0, -14.0])  # re the -12 dBFS working peak
    ratio: list[float] = field(default_factory=lambda: [1.5, 8.0])
    attack_ms: list[float] = field(default_factory=lambda: [1.0, 30.0])
    release_ms: list[float] = field(default_factory=lambda: [40.0, 300.0])
    eq_prob: float = 0.8
    highpass_prob: float = 0.3
    highpass_hz: list[float] = field(default_factory=lambda: [20.0, 120.0])
    bass_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    bass_hz: list[float] = field(default_factory=lambda: [60.0, 250.0])
    treble_db: list[float] = field(default_factory=lambda: [-9.0, 5.0])
    treble_hz: list[float] = field(default_factory=lambda: [2500.0, 8000.0])
    peak_eq_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    peak_eq_hz: list[float] = field(default_factory=lambda: [200.0, 5000.0])
    peak_eq_q: list[float] = field(default_factory=lambda: [0.5, 2.0])
    saturation_prob: float = 0.25
    drive_db: list[float] = field(default_factory=lambda: [3.0, 18.0])
    clip_prob: float = 0.1
    clip_db: list[float] = field(default_factory=lambda: [-6.0, -0.5])  # clip level re the peak
    limit_prob: float = 0.7
    loudness_lufs: list[float] = field(default_factory=lambda: [-16.0, -7.0])  # mastered loudness
    limiter_release_ms: list[float] = field(default_factory=lambda: [30.0, 200.0])
    codec_prob: float = 0.35
    codecs: list[str] = field(default_factory=lambda: list(CODECS))
    bitrates_kbps: list[int] = field(default_factory=lambda: list(BITRATES_KBPS))
    codec_rate: int = 48000  # the codec runs at a record's rate, not the feature rate
    peak_db: list[float] = field(default_factory=lambda: [-12.0, 0.0])  # final peak level
    quiet_prob: float = 0.15  # a quiet take instead: peak from quiet_peak_db
    quiet_peak_db: list[float] = field(default_factory=lambda: [-40.0, -12.0])
    # the kit retuned for a track (drumtx.synth.kits.retuned): every note by kit_semitones, the
    # toms by tom_semitones more, each cymbal (hi-hat, ride, crash 1, crash 2) by its own draw from
    # cymbal_semitones more; all drawn in steps of tuning_step (a sampled kit's samples are
    # decoded once per pitch). Off by default: the draws of recipes without it are unchanged, and
    # [0, 0] cymbal_semitones (the default) draws no cymbal shift.
    tuning_prob: float = 0.0
    kit_semitones: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    tom_semitones: list[float] = field(default_factory=lambda: [-4.0, 4.0])
    cymbal_semitones: list[float] = field(default_factory=lambda: [0.0, 0.0])
    tuning_step: float = 0.5
    # a hybrid kit: the cymbals (every note of drumtx.synth.kits.CYMBAL_PIECES: hi-hat, ride,
    # crashes) of this share of the training and validation tracks on training kits are played on
    # another training kit, drawn per track (drumtx.synth.dataset.cymbal_kit), so that no cymbal
    # class is learnt as part of one kit's sound. Test tracks and unseen kits never. Off by default.
    cymbal_kit_prob: float = 0.0
    # true: the drawn kit's cymbals are scaled to the RMS the track's own kit gives the same notes,
    # so a hybrid keeps its own kit's cymbal-to-drum balance (without it the balance moves by up to
    # ~30 dB across pairs: experiments/scripts/hybrid_levels.py); false: each kit at its own level
    cymbal_kit_level_match: bool = False
    # cymbals that ring long and dark: the cymbal stem (every note of CYMBAL_PIECES but the closed
    # and pedal hi-hat, which stay dry: drumtx.synth.dataset.CLOSED_HAT_NOTES) of this share
    # of the training and validation tracks on training kits rings on (a decaying tail of drawn
    # RT60 and level, :func:`ring_cymbals`) and loses treble (a high shelf), drawn per track
    # (drumtx.synth.dataset.cymbal_ring). Why: the training kits' cymbal samples are cut after
    # 1-3 s and are bright (centroid 5-7 kHz), an unseen kit's can ring 5-8 s at 3-5 kHz, and on
    # such a kit every hi-hat and ride sounds like the training kits' crashes
    # (experiments/cymbal_samples/). Test tracks and unseen kits never. Off by default.
    cymbal_ring_prob: float = 0.0
    cymbal_ring_rt60_s: list[float] = field(default_factory=lambda: [2.0, 12.0])  # the tail's 60 dB decay
    cymbal_ring_db: list[float] = field(default_factory=lambda: [-12.0, 0.0])  # tail energy re the dry stem's
    cymbal_treble_db: list[float] = field(default_factory=lambda: [-12.0, 0.0])  # high shelf on the stem
    cymbal_treble_hz: list[float] = field(default_factory=lambda: [2500.0, 6000.0])
    # which cymbals ring on: some of RING_PIECES (the closed and pedal hi-hat never do). Without
    # the crash, length and darkness stop meaning "crash": a ringing crash taught the crash head
    # that an unseen kit's long, dark hats and ride are crashes (experiments/default_model_v2,
    # the ring arm's result)
    cymbal_ring_pieces: list[str] = field(default_factory=lambda: list(RING_PIECES))

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> ProductionConfig:
        """The block's settings over the defaults; raises :class:`ProductionError` (one line) for an
        unknown key, a ``*_prob`` outside [0, 1], a range that is not [low, high], an unknown codec
        or bit rate, or a peak level above 0 dBFS."""
        ranges = [name for name, value in vars(cls()).items()
                  if isinstance(value, list) and name not in ("codecs", "bitrates_kbps", "cymbal_ring_pieces")]
        out = config_from_mapping(cls, cfg, cls.WHERE, ProductionError, ranges=ranges)
        bad = set(out.codecs) - set(CODECS)
        if bad or not out.codecs:
            raise ProductionError(f"data.synth.production.codecs must be some of {list(CODECS)}, got {out.codecs}")
        bad = set(out.cymbal_ring_pieces) - set(RING_PIECES)
        if bad or not out.cymbal_ring_pieces:
            raise ProductionError(f"data.synth.production.cymbal_ring_pieces must be some of {list(RING_PIECES)}, "
                                  f"got {out.cymbal_ring_pieces}" + ("" if out.cymbal_ring_pieces else
                                                                     " (no ringing: cymbal_ring_prob=0)"))
        bad = set(out.bitrates_kbps) - set(BITRATES_KBPS)
        if bad or not out.bitrates_kbps:
            raise ProductionError(f"data.synth.production.bitrates_kbps must be some of {list(BITRATES_KBPS)}, "
                                  f"got {out.bitrates_kbps}")
        for other in ("tom_semitones", "cymbal_semitones"):
            reach = max(map(abs, out.kit_semitones)) + max(map(abs, getattr(out, other)))
            if reach > MAX_SHIFT_SEMITONES:
                raise ProductionError(f"data.synth.production: kit_semitones and {other} reach {reach:g} "
                                      f"semitones together; at most {MAX_SHIFT_SEMITONES:g}")
        if not out.tuning_step > 0:
            raise ProductionError(f"data.synth.production.tuning_step must be > 0 semitones, got {out.tuning_step}")
        if out.peak_db[1] > 0 or out.quiet_peak_db[1] > 0:
            raise ProductionError("data.synth.production.peak_db / quiet_peak_db must stay <= 0 dBFS")
        return out


def _uniform(rng: np.random.Generator, r) -> float:
    """One draw from the config range ``r`` = [low, high], as a plain float."""
    return float(rng.uniform(float(r[0]), float(r[1])))


def draw(cfg: ProductionConfig, rng: np.random.Generator) -> dict:
    """One track's chain: plain numbers (they go into the csv and logs). Stages switched off
    for this track are absent; the draw order is fixed, so a seed always gives the same chain."""

    def u(r):
        return _uniform(rng, r)

    p: dict = {"velocity_curve": u(cfg.velocity_curve)}
    if rng.random() < cfg.room_prob:
        dims = [u(cfg.room_length_m), u(cfg.room_width_m), u(cfg.room_height_m)]
        p["room"] = {"dims_m": dims, "rt60_s": u(cfg.rt60_s), "close_m": u(cfg.close_mic_m),
                     "overhead_m": u(cfg.overhead_m), "overhead_db": u(cfg.overhead_db),
                     "kit_xy": [float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.25, 0.75))],
                     "azimuth": float(rng.uniform(0, 2 * np.pi))}
    if rng.random() < cfg.compress_prob:
        p["compressor"] = {"threshold_db": u(cfg.threshold_db), "ratio": u(cfg.ratio),
                           "attack_ms": u(cfg.attack_ms), "release_ms": u(cfg.release_ms)}
    if rng.random() < cfg.eq_prob:
        eq = {"bass_db": u(cfg.bass_db), "bass_hz": u(cfg.bass_hz), "treble_db": u(cfg.treble_db),
              "treble_hz": u(cfg.treble_hz), "peak_db": u(cfg.peak_eq_db), "peak_hz": u(cfg.peak_eq_hz),
              "peak_q": u(cfg.peak_eq_q)}
        if rng.random() < cfg.highpass_prob:
            eq["highpass_hz"] = u(cfg.highpass_hz)
        p["eq"] = eq
    if rng.random() < cfg.saturation_prob:
        p["drive_db"] = u(cfg.drive_db)
    if rng.random() < cfg.clip_prob:
        p["clip_db"] = u(cfg.clip_db)
    if rng.random() < cfg.limit_prob:
        p["limiter"] = {"loudness_lufs": u(cfg.loudness_lufs), "release_ms": u(cfg.limiter_release_ms)}
    if rng.random() < cfg.codec_prob:
        p["codec"] = {"format": str(cfg.codecs[int(rng.integers(len(cfg.codecs)))]),
                      "kbps": int(cfg.bitrates_kbps[int(rng.integers(len(cfg.bitrates_kbps)))]),
                      "rate": int(cfg.codec_rate)}
    quiet = rng.random() < cfg.quiet_prob
    p["peak_db"] = u(cfg.quiet_peak_db if quiet else cfg.peak_db)
    # last, and only when on: every draw above stays what recipes without tuning drew
    if cfg.tuning_prob > 0 and rng.random() < cfg.tuning_prob:

        def step(r):  # a multiple of tuning_step within the range (rounded inwards where it would leave it)
            lo, hi, st = float(r[0]), float(r[1]), cfg.tuning_step
            v = round(u(r) / st) * st
            v = v - st if v > hi else v + st if v < lo else v
            return float(min(max(v, lo), hi))

        p["tuning"] = {"kit_semitones": step(cfg.kit_semitones), "tom_semitones": step(cfg.tom_semitones)}
        if any(cfg.cymbal_semitones):  # only then: tuned recipes without it draw what they drew before
            p["tuning"]["cymbal_semitones"] = {piece: step(cfg.cymbal_semitones) for piece in CYMBAL_PIECES}
    return p


def summary(params: Mapping) -> str:
    """A short csv/log description of a drawn chain, e.g. ``room0.61s+comp+eq+lim-9LUFS+mp3@128k``."""
    parts = []
    if "room" in params:
        parts.append(f"room{params['room']['rt60_s']:.2f}s")
    parts += [name for name, key in (("comp", "compressor"), ("eq", "eq"), ("sat", "drive_db"), ("clip", "clip_db"))
              if key in params]
    if "limiter" in params:
        parts.append(f"lim{params['limiter']['loudness_lufs']:.0f}LUFS")
    if "codec" in params:
        parts.append(f"{params['codec']['format']}@{params['codec']['kbps']}k")
    if "tuning" in params:
        t = params["tuning"]
        cym = "".join(f"/{piece.replace('_', '')}{v:+g}" for piece, v in (t.get("cymbal_semitones") or {}).items())
        parts.append(f"tune{t['kit_semitones']:+g}/toms{t['tom_semitones']:+g}{cym}st")
    if "cymbal_kit" in params:
        parts.append(f"cymbals:{params['cymbal_kit']}")
    if "cymbal_ring" in params:
        r = params["cymbal_ring"]
        parts.append(f"ring{r['rt60_s']:.1f}s{r['ring_db']:+.0f}dB/treble{r['treble_db']:+.0f}dB"
                     + ("/" + "&".join(r["pieces"]) if "pieces" in r else ""))
    parts.append(f"peak{params['peak_db']:.1f}dB")
    return "+".join(parts)


def draw_cymbal_ring(cfg: ProductionConfig, rng: np.random.Generator) -> dict:
    """One track's cymbal ring (:func:`ring_cymbals`' ``params``): plain numbers, fixed draw order."""

    def u(r):
        return _uniform(rng, r)

    return {"rt60_s": u(cfg.cymbal_ring_rt60_s), "ring_db": u(cfg.cymbal_ring_db),
            "treble_db": u(cfg.cymbal_treble_db), "treble_hz": u(cfg.cymbal_treble_hz),
            "seed": int(rng.integers(2**31))}


def ring_cymbals(stem: np.ndarray, sr: int, params: Mapping) -> np.ndarray:
    """A cymbal stem that rings longer and darker: ``stem`` plus its convolution with exponentially
    decaying white noise (a diffuse tail with the cymbals' own spectrum), then a high shelf.

    Args:
        stem: mono audio, shape (n,), float.
        sr: sample rate (Hz).
        params: ``rt60_s`` (the tail's 60 dB decay time, s), ``ring_db`` (the tail's energy re the
            dry stem's, dB), ``treble_db`` / ``treble_hz`` (high shelf gain, dB, and corner, Hz),
            ``seed`` (the noise).

    Returns:
        float32, shape (n + round(rt60_s * sr) - 1,) (the full convolution: the tail runs ``rt60_s``
        past the stem's end; the caller trims), or a copy of ``stem`` when it is empty or ``rt60_s``
        is not positive.

    Why not pedalboard's ``Reverb``: its Freeverb tail is too short for this; at room size 0.95 a
    2 s training-kit crash rang 2.6 s (-40 dB re its peak), 0.98 gave 3.2 s, where unseen kits'
    cymbals ring 5-8 s (experiments/cymbal_samples/ring_check.py). The
    convolution is scipy's, the shelf pedalboard's.
    """
    import pedalboard as pb
    from scipy.signal import fftconvolve

    stem = np.asarray(stem, dtype=np.float32)
    rt60 = float(params["rt60_s"])
    if stem.size == 0 or rt60 <= 0:
        return stem.copy()
    n_ir = max(1, int(round(rt60 * sr)))
    t = np.arange(n_ir, dtype=np.float64) / sr
    noise = np.random.default_rng(int(params["seed"])).standard_normal(n_ir)
    ir = noise * np.exp(-6.907755 * t / rt60)  # 10^(-60/20) = e^-6.9078 at t = rt60
    tail = fftconvolve(stem.astype(np.float64), ir)
    dry_e, tail_e = float(np.sum(np.square(stem, dtype=np.float64))), float(np.sum(tail**2))
    out = np.pad(stem.astype(np.float64), (0, tail.size - stem.size))
    if dry_e > 0 and tail_e > 0:
        out += tail * np.sqrt(dry_e / tail_e * 10 ** (float(params["ring_db"]) / 10))
    board = pb.Pedalboard([pb.HighShelfFilter(cutoff_frequency_hz=float(params["treble_hz"]),
                                              gain_db=float(params["treble_db"]))])
    return _board_run(board, out.astype(np.float32), sr)


def _peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def normalise(audio: np.ndarray, peak: float = WORKING_PEAK) -> np.ndarray:
    """``audio`` scaled to the given peak (silence stays silence)."""
    p = _peak(audio)
    return (audio * (peak / p)).astype(np.float32) if p > 0 else audio.astype(np.float32)


def room_irs(sr: int, dims_m, rt60_s: float, close_m: float, overhead_m: float, kit_xy, azimuth: float,
             max_order: int = 16) -> tuple[np.ndarray, np.ndarray, int]:
    """Impulse responses from the kit to a close mic and an overhead mic in a shoebox room.

    Args:
        sr: sample rate (Hz).
        dims_m: room length, width, height (m).
        rt60_s: reverberation time; wall absorption from Sabine's formula (``inverse_sabine``).
        close_m, overhead_m: kit-to-mic distances (m); the overhead sits above the kit.
        kit_xy: the kit's position as fractions of length and width; it stands 1 m high.
        azimuth: direction of the close mic around the kit (radians).
        max_order: image-source reflection order (caps the cost).
    Returns:
        ``(close_ir, overhead_ir, lag)``: float64 impulse responses of equal length, and the
        sample index of the close mic's direct sound (trim the convolution by it).
    """
    import pyroomacoustics as pra

    dims = np.asarray(dims_m, float)
    kit = np.array([dims[0] * kit_xy[0], dims[1] * kit_xy[1], 1.0])
    close = kit + close_m * np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
    overhead = kit + np.array([0.3 * np.cos(azimuth + np.pi), 0.3 * np.sin(azimuth + np.pi),
                               min(overhead_m, dims[2] - kit[2] - 0.2)])
    margin = 0.1  # keep mics inside the walls
    close = np.clip(close, margin, dims - margin)
    overhead = np.clip(overhead, margin, dims - margin)
    try:
        absorption, order = pra.inverse_sabine(float(rt60_s), dims)
    except ValueError:  # a big room cannot be that dry: take the driest it can be (absorption 0.95)
        volume, surface = float(np.prod(dims)), 2 * float(dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
        sabine = 24 * np.log(10) / pra.constants.get("c")
        absorption, order = pra.inverse_sabine(sabine * volume / (surface * 0.95) * 1.01, dims)
    room = pra.ShoeBox(dims, fs=int(sr), materials=pra.Material(float(min(absorption, 0.99))),
                       max_order=int(min(order, max_order)), air_absorption=False)
    room.add_source(kit)
    room.add_microphone_array(np.stack([close, overhead], axis=1))
    room.compute_rir()
    a, b = np.asarray(room.rir[0][0]), np.asarray(room.rir[1][0])
    n = max(a.size, b.size)
    a, b = np.pad(a, (0, n - a.size)), np.pad(b, (0, n - b.size))
    # pyroomacoustics centres each image's fractional-delay filter: the direct sound peaks at
    # distance / c * sr + (frac_delay_length // 2) samples.
    dist = float(np.linalg.norm(close - kit))
    lag = int(round(dist / pra.constants.get("c") * sr)) + pra.constants.get("frac_delay_length") // 2
    return a, b, lag


def apply_room(audio: np.ndarray, sr: int, dims_m, rt60_s: float, close_m: float, overhead_m: float,
               overhead_db: float, kit_xy, azimuth: float, max_order: int = 16) -> np.ndarray:
    """The kit heard through a close mic and an overhead mic, the overhead ``overhead_db`` above
    the close mic (by the impulse responses' energy, so one convolution does both mics).
    The close mic's direct sound stays on the dry signal's sample."""
    from scipy.signal import oaconvolve

    close_ir, over_ir, lag = room_irs(sr, dims_m, rt60_s, close_m, overhead_m, kit_xy, azimuth, max_order)
    ec, eo = float(np.linalg.norm(close_ir)), float(np.linalg.norm(over_ir))
    if ec <= 0 or eo <= 0:
        return audio
    ir = close_ir + over_ir * (ec / eo) * 10 ** (overhead_db / 20)
    mix = oaconvolve(audio, ir)[lag: lag + audio.size]
    return normalise(mix, _peak(audio))


def _board_run(board, audio: np.ndarray, sr: int) -> np.ndarray:
    return board(audio.astype(np.float32)[None, :], float(sr))[0]


def drum_bus(audio: np.ndarray, sr: int, params: Mapping, max_order: int = 16) -> np.ndarray:
    """Room (close + overhead mics) and bus compression of mono drum audio, at the working level."""
    import pedalboard as pb

    out = normalise(audio)
    if "room" in params:
        out = apply_room(out, sr, max_order=max_order, **params["room"])
    if "compressor" in params:
        c = params["compressor"]
        board = pb.Pedalboard([pb.Compressor(threshold_db=c["threshold_db"], ratio=c["ratio"],
                                             attack_ms=c["attack_ms"], release_ms=c["release_ms"])])
        out = normalise(_board_run(board, out, sr))  # make-up gain back to the working level
    return out.astype(np.float32)


def mix(drums: np.ndarray | None, music: np.ndarray | None, drum_to_music_db: float) -> np.ndarray:
    """Drums and music summed with the drums ``drum_to_music_db`` dB above the music (RMS);
    either may be None (drum-only or music-only track). Returns audio at the working level."""
    if music is None:
        return normalise(drums)
    if drums is None:
        return normalise(music)
    n = max(drums.size, music.size)
    d, m = np.pad(drums, (0, n - drums.size)), np.pad(music, (0, n - music.size))
    rd, rm = _rms(d), _rms(m)
    if rd > 0 and rm > 0:
        m = m * (rd / rm) * 10 ** (-float(drum_to_music_db) / 20)
    return normalise(d + m)


def master(audio: np.ndarray, sr: int, params: Mapping) -> np.ndarray:
    """EQ, saturation, clipping, loudness + limiter, codec and the final peak level.

    Args:
        audio: mono float audio (any level).
        sr: its sample rate (Hz).
        params: one draw of :func:`draw`.
    Returns:
        Mono float32 audio of the same length whose peak is ``params["peak_db"]`` dBFS.
    """
    import pedalboard as pb

    out = normalise(audio)
    stages = []
    if "eq" in params:
        e = params["eq"]
        nyq = 0.45 * sr
        if "highpass_hz" in e:
            stages.append(pb.HighpassFilter(cutoff_frequency_hz=e["highpass_hz"]))
        stages += [pb.LowShelfFilter(cutoff_frequency_hz=e["bass_hz"], gain_db=e["bass_db"]),
                   pb.PeakFilter(cutoff_frequency_hz=min(e["peak_hz"], nyq), gain_db=e["peak_db"], q=e["peak_q"]),
                   pb.HighShelfFilter(cutoff_frequency_hz=min(e["treble_hz"], nyq), gain_db=e["treble_db"])]
    if "drive_db" in params:
        stages.append(pb.Distortion(drive_db=params["drive_db"]))
    if stages:
        out = normalise(_board_run(pb.Pedalboard(stages), out, sr))
    if "clip_db" in params:
        out = normalise(_board_run(pb.Pedalboard([pb.Clipping(threshold_db=20 * np.log10(WORKING_PEAK)
                                                              + params["clip_db"])]), out, sr))
    if "limiter" in params:
        out = loudness_limit(out, sr, **params["limiter"])
    if "codec" in params:
        out = codec(out, sr, **params["codec"])
    return normalise(out, 10 ** (params["peak_db"] / 20))


def loudness_limit(audio: np.ndarray, sr: int, loudness_lufs: float, release_ms: float) -> np.ndarray:
    """Gain to ``loudness_lufs`` (BS.1770 integrated loudness, pyloudnorm), then a -1 dBFS limiter."""
    import pedalboard as pb
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)
    if audio.size < int(0.4 * sr) + 1:  # shorter than one BS.1770 gating block
        return audio
    loud = meter.integrated_loudness(audio.astype(np.float64))
    if not np.isfinite(loud):
        return audio
    gained = audio * 10 ** ((loudness_lufs - loud) / 20)
    board = pb.Pedalboard([pb.Limiter(threshold_db=-1.0, release_ms=release_ms)])
    return _board_run(board, gained.astype(np.float32), sr)


def codec(audio: np.ndarray, sr: int, format: str, kbps: int, rate: int = 48000) -> np.ndarray:
    """Encode and decode in memory (MP3 by LAME or Ogg Vorbis, via ``pedalboard.io``) at ``rate``
    and return to ``sr``, with the codec's delay removed (measured by cross-correlation, as
    decoders differ in whether they strip the encoder delay) and the length kept."""
    from pedalboard.io import AudioFile

    from drumtx.synth.render import resample

    if format not in CODECS:
        raise ProductionError(f"codec must be one of {CODECS}, got {format!r}")
    x = resample(audio, sr, rate) if rate != sr else audio.astype(np.float32)
    peak = _peak(x)
    if peak <= 0:
        return audio
    x = x * (0.9 / peak)  # the encoder's input must not clip
    buf = io.BytesIO()
    buf.name = f"track.{format}"
    with AudioFile(buf, "w", float(rate), 1, format=format, quality=f"{int(kbps)} kbps") as f:
        f.write(x[None, :])
    with AudioFile(io.BytesIO(buf.getvalue())) as f:
        y = f.read(f.frames)[0]
    lag = codec_lag(x, y, int(MAX_CODEC_LAG_S * rate))
    y = y[lag: lag + x.size]
    y = np.pad(y, (0, x.size - y.size))
    y = resample(y * (peak / 0.9), rate, sr) if rate != sr else y * (peak / 0.9)
    return y[: audio.size].astype(np.float32)


def codec_lag(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """The delay (samples, 0..max_lag) of ``y`` behind ``x``: the peak of their cross-correlation
    over 8 s from where ``x`` first sounds."""
    from scipy.signal import fftconvolve

    loud = np.flatnonzero(np.abs(x) > 0.01 * _peak(x))
    start = int(loud[0]) if loud.size else 0
    n = min(x.size - start, y.size - start - max_lag, 8 * 48000)
    if n <= 0:
        return 0
    seg = y[start: start + n + max_lag]
    corr = fftconvolve(seg, x[start: start + n][::-1], mode="valid")  # corr[k] = sum x[i] y[i + k]
    return int(np.argmax(corr))
