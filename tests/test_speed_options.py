"""Speed work on the transcription path (experiments/bench/README.md, "Speed and memory"):
each change gives the results of what it replaced."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from drumtx import tempo

librosa = pytest.importorskip("librosa")


def _groove_envelope(seed: int, n: int = 6000, fps: float = 100.0) -> np.ndarray:
    """Onset strength of a groove going 100 -> 140 bpm halfway, with ghost notes, noise and
    silent stretches at both ends and in the middle."""
    rng = np.random.default_rng(seed)
    env = np.abs(rng.normal(0, 0.05, n))
    t, k = 3.0, 0
    while t * fps < n:
        i = int(round(t * fps))
        env[i] += 1.0 if k % 2 == 0 else 0.6
        if rng.random() < 0.3 and i + 12 < n:
            env[i + 12] += 0.2
        t += 60.0 / (100.0 if t < n / fps / 2 else 140.0) / 2
        k += 1
    env[:200] = 0.0
    env[n // 2 : n // 2 + 300] = 0.0
    env[-250:] = 0.0
    return env.astype(np.float32)


def _librosa_local_tempo(env: np.ndarray, fps: float, ac: float = 8.0, block_seconds: float = 20.0):
    """The tempi drumtx.tempo computed with librosa before (blocks with ac * fps frames of context)."""
    env = np.nan_to_num(np.asarray(env, dtype=np.float64))
    n, ctx = env.size, int(round(ac * fps))
    block = max(int(round(block_seconds * fps)), 2 * ctx)
    parts = []
    for a in range(0, n, block):
        lo, hi = max(0, a - ctx), min(n, a + block + ctx)
        bpm = librosa.feature.tempo(
            onset_envelope=env[lo:hi], sr=fps * 512, hop_length=512, aggregate=None, ac_size=ac
        )
        parts.append(bpm[a - lo : a - lo + min(block, n - a)])
    return np.concatenate(parts)


def test_onset_envelope_is_librosas():
    mel = np.random.default_rng(0).normal(-5, 3, (128, 700)).astype(np.float32)
    ref = librosa.onset.onset_strength(S=mel, lag=1, max_size=1, center=False, detrend=False)
    out = tempo.onset_envelope(mel)
    assert out.dtype == np.float32 and np.array_equal(out, ref.astype(np.float32))


@pytest.mark.parametrize(("seed", "fps", "n"), [(0, 100.0, 6000), (1, 86.1328125, 5000), (2, 100.0, 900)])
def test_local_tempi_and_beats_are_librosas(seed, fps, n):
    """The numpy tempogram + tempo + beat tracker give librosa's values bit for bit (tempi per
    frame; beats with a per-frame and a constant tempo)."""
    env = _groove_envelope(seed, n, fps)
    env64 = env.astype(np.float64)
    win = tempo._ac_frames(8.0, fps)
    padded = np.pad(env64, (win // 2, win // 2), mode="linear_ramp", end_values=[0, 0])
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n]
    bins, prior = tempo._tempo_bins(win, fps)
    ours = np.concatenate([tempo._frame_tempi(frames[a : a + 700], bins, prior) for a in range(0, n, 700)])
    assert np.array_equal(ours, _librosa_local_tempo(env, fps))

    bpm = tempo.local_tempo(env, fps)
    for tempi in (bpm, 97.0, 131.0):
        _, ref = librosa.beat.beat_track(
            onset_envelope=env64, sr=fps * 512, hop_length=512, bpm=tempi, units="time", trim=False
        )
        assert np.array_equal(tempo.beat_times(env64, fps, tempi), ref)
    assert np.array_equal(tempo.estimate_beats(env, fps), tempo.beat_times(env64, fps, bpm))


def test_beat_times_edge_cases():
    assert tempo.beat_times(np.zeros(50), 100.0, 120.0).size == 0
    with pytest.raises(ValueError, match="tempi > 0"):
        tempo.beat_times(np.ones(50), 100.0, np.zeros(50))
    with pytest.raises(ValueError, match="one per frame"):
        tempo.beat_times(np.ones(50), 100.0, np.full(7, 120.0))


def test_beat_tracking_imports_no_librosa():
    """Transcription's beat tracking runs without librosa (its import compiles numba code and
    costs seconds and ~250 MB)."""
    code = (
        "import sys, numpy as np; from drumtx.tempo import estimate_beats, onset_envelope; "
        "env = onset_envelope(np.random.default_rng(0).normal(size=(16, 3000)).astype('float32')); "
        "assert estimate_beats(env, 100.0).size; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
