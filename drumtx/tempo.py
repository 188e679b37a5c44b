"""Beat tracking for the tempo map: beats that follow the music's tempo wherever it goes.

The MIDI and chart tempo maps (:class:`drumtx.midi_out.TempoMap`) put one tempo on every
inter-beat interval of the beats found here, so what matters is that the beats sit on the
music's beats in every section, through tempo steps and ramps.

``method="variable"`` (the default): a *local* tempo per frame, then librosa's
dynamic-programming beat tracker with that time-varying tempo (librosa >= 0.10 takes a
per-frame ``bpm`` array):

1. the local tempo is the per-frame estimate of ``librosa.feature.tempo(aggregate=None)``
   (autocorrelation tempogram over ``ac_seconds``, with librosa's log-normal tempo prior),
   computed in blocks with context on both sides, so memory is bounded by one block however
   long the file (the whole-file tempogram is ~6 kB per frame: gigabytes for an hour);
2. a running median over ``smooth_seconds`` removes frame-to-frame flicker, frames within
   half a window of the file's edges take the nearest fully-covered frame's tempo, and a
   frame whose tempo is about double or half the file's median is folded onto it (a
   tracker that flips between a tempo and its double makes a grid of mixed beat lengths);
3. ``librosa.beat.beat_track(bpm=<per-frame tempo>)`` places the beats.

``method="constant"`` is the earlier method, kept for comparison: one tempo for the whole
file (the median of per-window estimates) handed to the same tracker; a piece going
90 -> 140 bpm then gets a ~120 bpm grid in its 90 bpm section.

Accuracy of both on rendered cases with known beats (steady, step changes, ramps):
``python -m drumtx.bench_tempo``, recorded in ``experiments/tempo_map/README.md``.
"""

from __future__ import annotations

import numpy as np

from drumtx.output_settings import output_settings

#: librosa needs sr and hop_length only through their ratio (the frame rate).
_HOP = 512
METHODS = ("variable", "constant")
_CFG = output_settings()["tempo"]  # conf/outputs/default.yaml


def onset_envelope(mel: np.ndarray) -> np.ndarray:
    """The onset-strength envelope that beats are tracked on: librosa's spectral flux of a
    log-mel (first difference, positive part, mean over bins), one value per frame.

    Args:
        mel: ``(n_mels, T)`` log-mel (natural log of power, as :class:`drumtx.features.LogMel`).

    Returns:
        ``(T,)`` float32.
    """
    import librosa

    env = librosa.onset.onset_strength(S=np.asarray(mel), lag=1, max_size=1, center=False, detrend=False)
    return env.astype(np.float32)


def local_tempo(
    onset_envelope: np.ndarray,
    fps: float,
    ac_seconds: float | None = None,
    smooth_seconds: float | None = None,
    block_seconds: float | None = None,
) -> np.ndarray:
    """Tempo (bpm) of every frame of an onset-strength envelope.

    Args:
        onset_envelope: ``(T,)`` onset strength at ``fps`` frames per second.
        fps: frames per second.
        ac_seconds: autocorrelation window of the tempogram (s).
        smooth_seconds: running-median length (s).
        block_seconds: envelope length handled at once (memory ~ block x ac window).
        (Each None: the ``tempo`` section of ``conf/outputs/default.yaml``.)

    Returns:
        ``(T,)`` float64 bpm; empty for an empty envelope.
    """
    import librosa
    from scipy.ndimage import maximum_filter1d, median_filter

    ac_seconds = float(_CFG["ac_seconds"] if ac_seconds is None else ac_seconds)
    smooth_seconds = float(_CFG["smooth_seconds"] if smooth_seconds is None else smooth_seconds)
    block_seconds = float(_CFG["block_seconds"] if block_seconds is None else block_seconds)
    env = np.nan_to_num(np.asarray(onset_envelope, dtype=np.float64))
    n = env.size
    if n == 0:
        return np.zeros(0)
    sr = fps * _HOP
    ctx = int(round(ac_seconds * fps))
    block = max(int(round(block_seconds * fps)), 2 * ctx)
    parts = []
    for a in range(0, n, block):
        lo, hi = max(0, a - ctx), min(n, a + block + ctx)
        bpm = librosa.feature.tempo(
            onset_envelope=env[lo:hi], sr=sr, hop_length=_HOP, aggregate=None, ac_size=ac_seconds
        )
        parts.append(bpm[a - lo : a - lo + min(block, n - a)])
    bpm = np.concatenate(parts).astype(np.float64)
    # Frames whose tempogram window reaches past the file's edges see mostly padding.
    half = int(round(ac_seconds * fps / 2))
    if n > 2 * half:
        bpm[:half] = bpm[half]
        bpm[n - half :] = bpm[n - half - 1]
    else:
        bpm[:] = np.median(bpm)
    # Silence (no onset energy in the window) has no tempo: take the neighbours'.
    active = maximum_filter1d((env > 0).astype(np.uint8), size=2 * half + 1) > 0
    if active.any() and not active.all():
        idx = np.flatnonzero(active)
        bpm = np.interp(np.arange(n), idx, bpm[idx])
    median = float(np.median(bpm[active] if active.any() else bpm))
    ratio = bpm / median
    bpm = np.where((ratio > 1.8) & (ratio < 2.2), bpm / 2, bpm)
    bpm = np.where((ratio > 1 / 2.2) & (ratio < 1 / 1.8), bpm * 2, bpm)
    size = max(1, int(round(smooth_seconds * fps)))
    return median_filter(bpm, size=size, mode="nearest")


def _constant_tempo(env: np.ndarray, fps: float, window_seconds: float) -> float | None:
    """The earlier global tempo: the median of per-window tempo estimates."""
    import librosa

    win = max(4, int(round(window_seconds * fps)))
    starts = range(0, max(1, env.size - win // 2), win)  # a short tail joins no window of its own
    tempos = [
        float(librosa.feature.tempo(onset_envelope=env[a : a + win], sr=fps * _HOP, hop_length=_HOP)[0])
        for a in starts
        if np.any(env[a : a + win] > 0)
    ]
    return float(np.median(tempos)) if tempos else None


def estimate_beats(
    onset_envelope: np.ndarray, fps: float, method: str | None = None, window_seconds: float = 15.0
) -> np.ndarray:
    """Beat times (s) from an onset-strength envelope at ``fps`` frames per second.

    Args:
        onset_envelope: ``(T,)`` onset strength (e.g. librosa's, of the log-mel).
        fps: frames per second of the envelope.
        method: ``"variable"`` (tempo follows the music) or ``"constant"`` (one tempo for
            the file, the earlier method); see the module docstring. None: ``tempo.method``
            of ``conf/outputs/default.yaml`` (variable).
        window_seconds: ``"constant"`` only: the length of the windows whose tempo
            estimates are pooled.

    Returns:
        ``(n_beats,)`` float64 beat times in s, increasing; empty when the envelope is
        silent or shorter than 4 frames.

    Raises:
        ValueError: unknown ``method``.
    """
    import librosa

    method = _CFG["method"] if method is None else method
    if method not in METHODS:
        raise ValueError(f"tempo method must be one of {METHODS}, got {method!r}")
    env = np.nan_to_num(np.asarray(onset_envelope, dtype=np.float64))
    if env.size < 4 or not np.any(env > 0):
        return np.zeros(0)
    if method == "constant":
        bpm = _constant_tempo(env, fps, window_seconds)
        if bpm is None:
            return np.zeros(0)
    else:
        bpm = local_tempo(env, fps)
    _, beats = librosa.beat.beat_track(
        onset_envelope=env, sr=fps * _HOP, hop_length=_HOP, bpm=bpm, units="time", trim=False
    )
    return np.asarray(beats, dtype=np.float64)
