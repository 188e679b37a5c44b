"""How hard each drum was struck: per-onset MIDI velocity, from the model or measured loudness.

:func:`onset_velocities` is the one place that supplies the velocity of every onset. A model
with a velocity head (``branches.velocity``, trained on the onset frames' MIDI velocity as
OaF-Drums does) gives it directly: the head's output at each onset's frame and fine class,
times 127 (:func:`velocities_from_model`). Models without one (the packaged v1 model and every
bundle saved before the head existed) must not use their confidence (a clean ghost note is
detected as confidently as a backbeat, so confidence-based velocities made ghost notes 127);
for them the velocity is measured from the audio:

1. **Level.** For each onset, the peak power (dB) of the short-time spectrum in the
   frequency band of its instrument (:data:`BANDS_HZ`) within ``[t - 10 ms, t + 50 ms]``.
   The audio is streamed in blocks (:func:`drumtx.audio.iter_audio_blocks`), so memory stays
   flat for any file length.
2. **Relative to its surroundings.** A file's absolute level says nothing about playing
   (mix, mastering, microphone), so each onset is compared with the *normal strokes of
   the same instrument* within ``+-window_s`` seconds: the median level of those of its
   hits that are not ghosts (not more than ``ghost_db`` below the loudest tenth).
3. **Velocity.** ``normal_velocity * 10 ** ((level - reference) / 40)``, clipped to 1..127:
   the usual MIDI convention that velocity grows with the square root of amplitude
   (40 dB over the whole 1..127 range... ~42 dB), so a normal stroke gets ``normal_velocity``
   and one +8 dB above its surroundings reaches 127.

Chart dynamics (accent / ghost gems) are decided from these velocities in
:func:`drumtx.chart.chart_dynamics`, whichever of the two supplied them.

The spectrum is librosa's STFT; librosa has onset *strength* (spectral flux, large for a
soft hit after silence and small for a loud hit over a ringing cymbal) but not the loudness
of a hit in one band, so the band sum and peak search around each onset are written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drumtx.output_settings import output_settings
from drumtx.targets import Onset
from drumtx.vocab import INSTRUMENTS

_CFG = output_settings()["velocity"]  # conf/outputs/default.yaml

#: Frequency band (Hz) whose power measures how hard each instrument was struck: the kick's
#: body, the snare's crack and wires, the toms' body, the cymbals' sizzle. Checked on rendered
#: grooves by tests/test_dynamics.py (velocity order kept, ghost notes found, a snare's sizzle in
#: the hi-hat band on 2 and 4 not taken for accented hats).
BANDS_HZ: dict[str, tuple[float, float]] = {
    "kick": (35.0, 120.0),
    "snare": (1000.0, 5000.0),
    "tom": (70.0, 500.0),
    "hihat": (6000.0, 11000.0),
    "ride": (3000.0, 11000.0),
    "crash": (3000.0, 11000.0),
    "hihat_pedal": (200.0, 6000.0),
}
FINE_TO_INSTRUMENT = {fine: inst for inst, fines in INSTRUMENTS.items() for fine in fines}

SAMPLE_RATE = 24000
N_FFT = 512  # 21 ms at 24 kHz: short enough to separate 16ths at 200 bpm
HOP = 120  # 5 ms
BEFORE_S, AFTER_S = 0.010, 0.050  # the window around an onset where its peak is looked for


def measure_levels(path: str | Path, onsets: Sequence[Onset], block_seconds: float = 60.0) -> np.ndarray:
    """Peak band power (dB, arbitrary reference) of every onset, in the order given.

    Args:
        path: the audio file the onsets were transcribed from (any format
            :func:`drumtx.audio.iter_audio_blocks` reads).
        onsets: onsets with ``time`` in seconds and a ``fine_class`` of :data:`INSTRUMENTS`.
        block_seconds: audio decoded at a time (memory ~ ``block_seconds`` x 24 kHz floats).

    Returns:
        ``(len(onsets),)`` float64 dB; ``-inf``-free (silence is -120 dB).

    Raises:
        drumtx.audio.AudioError: the file cannot be read.
    """
    import librosa

    from drumtx.audio import iter_audio_blocks

    times = np.array([o.time for o in onsets], dtype=np.float64)
    levels = np.full(times.shape, -120.0)
    if times.size == 0:
        return levels
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    masks = {inst: (freqs >= lo) & (freqs < hi) for inst, (lo, hi) in BANDS_HZ.items()}
    inst_of = [FINE_TO_INSTRUMENT[o.fine_class] for o in onsets]
    margin = BEFORE_S + AFTER_S + N_FFT / SAMPLE_RATE
    overlap = 2 * margin
    done = np.zeros(times.shape, dtype=bool)
    blocks = iter_audio_blocks(path, SAMPLE_RATE, block_seconds, overlap)
    pending = next(blocks, None)
    while pending is not None:
        start, wave = pending
        pending = next(blocks, None)
        end = start + wave.size / SAMPLE_RATE
        # An onset is measured in the first block that holds its whole window (or the last block).
        ready = ~done if pending is None else ~done & (times + AFTER_S + N_FFT / SAMPLE_RATE < end)
        todo = np.flatnonzero(ready)
        if todo.size == 0:
            continue
        spec = librosa.stft(wave, n_fft=N_FFT, hop_length=HOP, center=True)  # (F, T), frame k at k*HOP
        power = (spec.real**2 + spec.imag**2).T  # (T, F)
        n_frames = power.shape[0]
        band = {inst: power[:, m].sum(axis=1) for inst, m in masks.items()}
        for i in todo:
            rel = times[i] - start
            a = max(0, int(np.floor((rel - BEFORE_S) * SAMPLE_RATE / HOP)))
            b = min(n_frames, int(np.ceil((rel + AFTER_S) * SAMPLE_RATE / HOP)) + 1)
            if b > a:
                levels[i] = max(-120.0, 10.0 * np.log10(float(band[inst_of[i]][a:b].max()) + 1e-12))
            done[i] = True
    return levels


#: Velocity of a normal stroke (the median of an instrument's non-ghost hits around it).
NORMAL_VELOCITY = int(_CFG["normal_velocity"])
#: Levels more than this far below the loudest tenth of an instrument's hits are ghosts and
#: do not count towards the normal level.
GHOST_DB = float(_CFG["ghost_db"])
#: Neighbourhood (s, each side) that "relative to its surroundings" means.
WINDOW_S = float(_CFG["window_s"])
#: Hits closer than this (s) sound together: their energy adds up in each other's bands.
TOGETHER_S = float(_CFG["together_s"])
#: Instruments whose hits put much energy into another's band (snare wires and cymbals into
#: the hi-hat band, kick into the toms', ...). A hit that sounds together with one of them is
#: *unsure*: its level may be the other's, so it never gets louder than a normal stroke, and
#: it counts towards the normal level only when too few clean hits are near.
LEAKS_FROM: dict[str, frozenset[str]] = {
    "kick": frozenset({"tom"}),
    "snare": frozenset({"hihat", "ride", "crash"}),
    "tom": frozenset({"kick", "snare"}),
    "hihat": frozenset({"snare", "ride", "crash"}),
    "ride": frozenset({"snare", "hihat", "crash"}),
    "crash": frozenset({"snare", "hihat", "ride"}),
    "hihat_pedal": frozenset({"kick", "snare", "tom", "hihat", "ride", "crash"}),
}
MIN_CLEAN = int(_CFG["min_clean"])


def leaked(onsets: Sequence[Onset], together_s: float = TOGETHER_S) -> np.ndarray:
    """``(len(onsets),)`` bool: the onset sounds together with a hit that leaks into its band."""
    times = np.array([o.time for o in onsets], dtype=np.float64)
    insts = [FINE_TO_INSTRUMENT[o.fine_class] for o in onsets]
    order = np.argsort(times, kind="stable")
    out = np.zeros(times.shape, dtype=bool)
    for pos, i in enumerate(order):
        for step in (-1, 1):
            q = pos + step
            while 0 <= q < order.size and abs(times[order[q]] - times[i]) <= together_s:
                if insts[order[q]] in LEAKS_FROM.get(insts[i], ()):
                    out[i] = True
                q += step
    return out


def velocities_from_levels(
    onsets: Sequence[Onset],
    levels: np.ndarray,
    window_s: float = WINDOW_S,
    normal_velocity: int = NORMAL_VELOCITY,
    ghost_db: float = GHOST_DB,
) -> np.ndarray:
    """MIDI velocities from measured levels, per instrument relative to its surroundings.

    For each onset, among the hits of its instrument within ``+-window_s`` s: the *loud*
    level is their 90th percentile; hits more than ``ghost_db`` below it are ghosts; the
    *normal* level is the median of the others (of the clean ones, see :data:`LEAKS_FROM`,
    when at least :data:`MIN_CLEAN` are near). Velocity is
    ``normal_velocity * 10 ** ((level - normal) / 40)`` (velocity ~ sqrt(amplitude), the
    usual MIDI curve), at most ``normal_velocity`` for a hit that sounds together with a
    leaking one, clipped to 1..127.

    Args:
        onsets: the onsets (time s, fine class).
        levels: ``(len(onsets),)`` dB from :func:`measure_levels`.

    Returns:
        ``(len(onsets),)`` int64 velocities 1..127.
    """
    levels = np.asarray(levels, dtype=np.float64)
    times = np.array([o.time for o in onsets], dtype=np.float64)
    insts = np.array([FINE_TO_INSTRUMENT[o.fine_class] for o in onsets])
    unsure = leaked(onsets)
    out = np.full(times.shape, normal_velocity, dtype=np.int64)
    for inst in np.unique(insts):
        idx = np.flatnonzero(insts == inst)
        idx = idx[np.argsort(times[idx], kind="stable")]
        t, lv, bad = times[idx], levels[idx], unsure[idx]
        lo = np.searchsorted(t, t - window_s, side="left")
        hi = np.searchsorted(t, t + window_s, side="right")
        for k in range(idx.size):
            near, near_bad = lv[lo[k] : hi[k]], bad[lo[k] : hi[k]]
            normal = near > np.percentile(near, 90) - ghost_db
            clean = normal & ~near_bad
            ref = float(np.median(near[clean] if clean.sum() >= MIN_CLEAN else near[normal]))
            v = normal_velocity * 10.0 ** ((lv[k] - ref) / 40.0)
            if bad[k]:
                v = min(v, normal_velocity)
            out[idx[k]] = int(np.clip(round(v), 1, 127))
    return out


def velocities_from_model(
    onsets: Sequence[Onset], velocity: np.ndarray, fps: float, fine_classes: Sequence[str]
) -> np.ndarray:
    """MIDI velocities read off a velocity head's output: ``round(127 * velocity[frame, class])``
    at each onset's frame (``round(time * fps)``, clamped to the array) and fine class, clipped
    to 1..127.

    Args:
        onsets: the onsets (time s, fine class).
        velocity: ``(T, C)`` velocity / 127 (:attr:`drumtx.inference.Activations.velocity`).
        fps: frames per second of ``velocity``.
        fine_classes: the fine class of each of its ``C`` columns.

    Returns:
        ``(len(onsets),)`` int64 velocities 1..127.

    Raises:
        ValueError: ``velocity`` is not 2-D with one column per fine class, or an onset's class
            is not among ``fine_classes``.
    """
    velocity = np.asarray(velocity)
    classes = list(fine_classes)
    if velocity.ndim != 2 or velocity.shape[1] != len(classes):
        raise ValueError(f"velocity must be (T, {len(classes)}), got {velocity.shape}")
    out = np.empty(len(onsets), dtype=np.int64)
    if not len(onsets):
        return out
    if velocity.shape[0] == 0:
        raise ValueError("velocity has no frames")
    for k, o in enumerate(onsets):
        if o.fine_class not in classes:
            raise ValueError(f"onset class {o.fine_class!r} is not one of the model's {classes}")
        frame = min(max(int(round(o.time * fps)), 0), velocity.shape[0] - 1)
        v = float(velocity[frame, classes.index(o.fine_class)]) * 127.0
        out[k] = int(np.clip(round(v), 1, 127))
    return out


def onset_velocities(
    path: str | Path | None,
    onsets: Sequence[Onset],
    velocity: np.ndarray | None = None,
    fps: float | None = None,
    fine_classes: Sequence[str] | None = None,
) -> np.ndarray:
    """The velocity of every onset (the one supplier of per-onset velocity): from the model's
    velocity head when there is one (``velocity`` given, :func:`velocities_from_model`; the
    audio is not read), else measured from the audio (:func:`measure_levels`,
    :func:`velocities_from_levels`).

    Args:
        path: the transcribed audio file (read only without ``velocity``).
        onsets: its onsets.
        velocity: the model's velocity output (T, C), velocity / 127; None: measure.
        fps: frames per second of ``velocity`` (needed with it).
        fine_classes: the fine class of each of its columns (needed with it).

    Returns:
        ``(len(onsets),)`` int64 MIDI velocities 1..127.

    Raises:
        drumtx.audio.AudioError: the file cannot be read (measuring only).
        ValueError: ``velocity`` without ``fps`` / ``fine_classes``, or of the wrong shape.
    """
    if velocity is not None:
        if fps is None or fine_classes is None:
            raise ValueError("a model velocity output needs its fps and fine_classes")
        return velocities_from_model(onsets, velocity, float(fps), fine_classes)
    if path is None:
        raise ValueError("no model velocity output and no audio file to measure")
    return velocities_from_levels(onsets, measure_levels(path, onsets))
