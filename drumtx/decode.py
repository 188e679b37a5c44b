"""Frame probabilities -> drum onsets: peak picking per instrument, variation at the peak.

Shared by validation (onset F-measure), threshold tuning, evaluation and transcription, so
that every number the project reports comes from the same decoder the user runs.
"""

from __future__ import annotations

import math

import numpy as np

from drumtx.targets import Onset
from drumtx.vocab import Vocabulary

#: Peak-picking settings per instrument until threshold tuning writes better ones into a
#: checkpoint's sidecar. The crash starts stricter: false crashes are jarring in a game.
DEFAULT_THRESHOLDS: dict[str, dict[str, float]] = {
    "kick": {"threshold": 0.5, "min_gap_s": 0.03},
    "snare": {"threshold": 0.5, "min_gap_s": 0.03},
    "tom": {"threshold": 0.5, "min_gap_s": 0.03},
    "hihat": {"threshold": 0.5, "min_gap_s": 0.03},
    "ride": {"threshold": 0.5, "min_gap_s": 0.03},
    "crash": {"threshold": 0.6, "min_gap_s": 0.1},
    "hihat_pedal": {"threshold": 0.5, "min_gap_s": 0.03},
}


def peak_picking_setting(value: object, where: str) -> dict[str, float]:
    """One instrument's peak-picking override as ``{threshold, min_gap_s}`` (either may be absent).

    Args:
        value: a number (the threshold) or a mapping with ``threshold`` (in (0, 1]) and/or
            ``min_gap_s`` (seconds, in [0, 10)).
        where: what names it in the error, e.g. ``--thresholds: kick`` or ``thresholds.kick``.
    Raises:
        ValueError: one line naming ``where``: another type, an unknown key, a value out of range.
    """
    spec = {"threshold": value} if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(spec, dict) or not set(spec) <= {"threshold", "min_gap_s"}:
        raise ValueError(f"{where} must be a number or {{threshold, min_gap_s}}, got {value!r}")
    out = {}
    for key, (low, high, what) in {"threshold": (0.0, 1.0, "in (0, 1]"), "min_gap_s": (0.0, 10.0, "in [0, 10) s")}.items():
        if key not in spec:
            continue
        v = spec[key]
        number = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
        inside = low < number <= high if key == "threshold" else low <= number < high
        if not inside:
            raise ValueError(f"{where} {key} must be {what}, got {v!r}")
        out[key] = number
    return out


def pick_peaks(activation: np.ndarray, threshold: float, min_gap_frames: int = 1) -> np.ndarray:
    """Frames that are local maxima at or above ``threshold``, at least ``min_gap_frames`` apart.

    The peaks of ``scipy.signal.find_peaks(x, height=threshold, distance=min_gap_frames)``
    (``tests/test_speed_options.py`` checks them against it): it keeps the higher of two peaks
    closer than ``distance`` and takes the middle of a plateau, which a hand-written argmax loop
    gets wrong. Written here in numpy because importing ``scipy.signal`` costs transcription
    ~0.5-1 s and ~70 MB (``experiments/bench``).

    Returns:
        int64 frame indices, increasing.
    """
    act = np.asarray(activation, dtype=np.float64).ravel()
    if act.size == 0:
        return np.zeros(0, dtype=np.int64)
    # Pad so that a peak on the first or last frame still counts as a local maximum.
    x = np.concatenate(([-np.inf], act, [-np.inf]))
    peaks = _local_maxima(x)
    peaks = peaks[threshold <= x[peaks]]
    if min_gap_frames > 1 and peaks.size > 1:
        peaks = peaks[_keep_by_distance(peaks, x[peaks], math.ceil(min_gap_frames))]
    return (peaks - 1).astype(np.int64)


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """scipy's ``_local_maxima_1d``: every run of equal samples (a plateau, or one sample) with a
    lower sample on both sides is a maximum at its middle (``(first + last) // 2``)."""
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    ends = np.concatenate((starts[1:] - 1, [x.size - 1]))
    level = x[starts]
    inner = np.flatnonzero((level[:-2] < level[1:-1]) & (level[2:] < level[1:-1])) + 1
    return ((starts[inner] + ends[inner]) // 2).astype(np.intp)


def _keep_by_distance(peaks: np.ndarray, heights: np.ndarray, distance: int) -> np.ndarray:
    """scipy's ``_select_by_peak_distance``: from the highest peak down (in ``np.argsort``
    order), each kept peak removes the peaks closer than ``distance`` on both sides."""
    keep = np.ones(peaks.size, dtype=bool)
    pos = peaks.tolist()
    for j in np.argsort(heights)[::-1].tolist():
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and pos[j] - pos[k] < distance:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(pos) and pos[k] - pos[j] < distance:
            keep[k] = False
            k += 1
    return keep


def velocity_from_activation(peak: float, threshold: float) -> int:
    """Map peak height in [threshold, 1] to MIDI velocity 1..127 (soft ghost notes, loud accents).

    The model's confidence is our only loudness cue that is independent of the mix level;
    a square-root curve keeps barely-detected hits audible (>= 30) rather than silent.
    """
    span = max(1e-6, 1.0 - threshold)
    x = float(np.clip((peak - threshold) / span, 0.0, 1.0))
    return int(round(30 + 97 * np.sqrt(x)))


def decode_onsets(
    instrument_probs: dict[str, tuple[np.ndarray, np.ndarray]],
    fps: float,
    vocab: Vocabulary,
    thresholds: dict[str, dict[str, float]] | None = None,
) -> list[Onset]:
    """Onsets of every instrument, sorted by time.

    ``instrument_probs`` maps instrument -> (activation (T,), variation (T, V)); the
    variation of an onset is the argmax of its variation probabilities at the peak.
    ``Onset.velocity`` is derived from the peak height (see :func:`velocity_from_activation`).
    """
    settings = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    onsets: list[Onset] = []
    for instrument, (activation, variation) in instrument_probs.items():
        fine = vocab.instruments[instrument]
        s = settings[instrument]
        gap = max(1, int(round(s["min_gap_s"] * fps)))
        activation = np.asarray(activation)
        for frame in pick_peaks(activation, s["threshold"], gap):
            v = int(np.argmax(variation[frame])) if len(fine) > 1 else 0
            onsets.append(
                Onset(
                    time=frame / fps,
                    fine_class=fine[v],
                    velocity=velocity_from_activation(float(activation[frame]), s["threshold"]),
                )
            )
    onsets.sort(key=lambda o: (o.time, o.fine_class))
    return onsets


def onset_confidences(
    instrument_probs: dict[str, tuple[np.ndarray, np.ndarray]],
    onsets: list[Onset],
    fps: float,
    vocab: Vocabulary,
) -> list[float]:
    """Model confidence (activation x variation probability) at each decoded onset."""
    out = []
    for onset in onsets:
        inst = vocab.instrument_of(onset.fine_class)
        act, var = instrument_probs[inst]
        frame = min(int(round(onset.time * fps)), len(act) - 1)
        v = vocab.instruments[inst].index(onset.fine_class)
        out.append(float(act[frame] * (var[frame, v] if var.ndim == 2 else 1.0)))
    return out
