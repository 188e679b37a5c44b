"""Beat tracking for the tempo map: beats that follow the music's tempo wherever it goes.

The MIDI and chart tempo maps (:class:`drumtx.midi_out.TempoMap`) put one tempo on every
inter-beat interval of the beats found here, so what matters is that the beats sit on the
music's beats in every section, through tempo steps and ramps.

``method="variable"`` (the default): a *local* tempo per frame, then librosa's
dynamic-programming beat tracker with that time-varying tempo (librosa >= 0.10 takes a
per-frame ``bpm`` array):

1. the local tempo is the per-frame estimate of ``librosa.feature.tempo(aggregate=None)``
   (autocorrelation tempogram over ``ac_seconds``, with librosa's log-normal tempo prior),
   computed block by block (each frame's tempogram column once, from the envelope around it),
   so memory is bounded by one block however long the file (the whole-file tempogram is
   ~6 kB per frame: gigabytes for an hour);
2. a running median over ``smooth_seconds`` removes frame-to-frame flicker, frames within
   half a window of the file's edges take the nearest fully-covered frame's tempo, and a
   frame whose tempo is about double or half the file's median is folded onto it (a
   tracker that flips between a tempo and its double makes a grid of mixed beat lengths);
3. ``librosa.beat.beat_track(bpm=<per-frame tempo>)`` places the beats.

What the beats are tracked on (:func:`beat_envelope`, ``tempo.envelope``): the spectral flux of
the log-mel plus the model's summed drum activations, each standardised over the file
(``"flux+activations"``, the default), or the flux alone (``"flux"``).

``method="constant"`` is the earlier method, kept for comparison: one tempo for the whole
file (the median of per-window estimates) handed to the same tracker; a piece going
90 -> 140 bpm then gets a ~120 bpm grid in its 90 bpm section.

The tempogram, tempo estimate and beat tracker are librosa 0.11's algorithms
(``librosa.onset.onset_strength``, ``librosa.feature.tempo``, ``librosa.beat.beat_track``)
re-written here in numpy with the same arithmetic, so that transcription neither imports
librosa (~1.6-4 s of CPU and ~250 MB of resident memory, most of it numba compiling
``librosa.beat`` on every import) nor pays for it: ``tests/test_speed_options.py`` checks
that they give librosa's tempi and beats on real and synthetic envelopes
(``experiments/bench/README.md``, "Speed and memory").

Accuracy of both on rendered cases with known beats (steady, step changes, ramps):
``python -m drumtx.bench_tempo``, recorded in ``experiments/tempo_map/README.md``.
"""

from __future__ import annotations

import numpy as np

from drumtx.midi_out import BEATS_PER_BAR
from drumtx.output_settings import output_settings

#: librosa needs sr and hop_length only through their ratio (the frame rate).
_HOP = 512
METHODS = ("variable", "constant")
_CFG = output_settings()["tempo"]  # conf/outputs/default.yaml
#: How far (s) a tracked beat may sit from its beat in the MIDI and chart tempo maps, so that a
#: steady beat tracked on the frame grid gets one tempo (:func:`drumtx.midi_out.steady_anchors`).
MAP_TOLERANCE_S = float(_CFG["map_tolerance_ms"]) / 1000.0


#: Fine classes that mark a downbeat when they open the music: a song's first bar starts on a kick
#: (with a crash, often); a pickup before it is a fill of snare and toms.
DOWNBEAT_CLASSES = tuple(str(c) for c in _CFG["downbeat_classes"])
#: Crashes on beats that may outvote the first downbeat (:func:`first_downbeat`), at least.
DOWNBEAT_CRASH_VOTES = int(_CFG["downbeat_crash_votes"])
#: How near a tracked beat such a hit must be to count as on it (s).
DOWNBEAT_TOLERANCE_S = float(_CFG["downbeat_tolerance_ms"]) / 1000.0


def first_downbeat(onsets, beats: np.ndarray) -> float | None:
    """The music's first downbeat, as far as drums tell: the first kick or crash onset within
    :data:`DOWNBEAT_TOLERANCE_S` of a tracked beat, or a crash on a beat less than a 4/4 bar
    after that one (a kick in a pickup fill before it); where at least
    :data:`DOWNBEAT_CRASH_VOTES` crashes sit on beats and two thirds of them on one other beat of
    the 4/4 bar that beat counts, that beat instead. No meter is detected; this only moves the
    bar lines of the MIDI and chart outputs from the file's start to where the playing starts
    (a take after 1.1 s of silence had every bar line 2 beats off, a charter's try 2026-12-07).

    Args:
        onsets: :class:`drumtx.targets.Onset` objects (``time`` s, ``fine_class``), any order.
        beats: ``(n,)`` tracked beat times (s).

    Returns:
        Its time (s), or None (no such hit, or no beats).
    """
    beats = np.sort(np.asarray(beats, dtype=np.float64))
    hits = sorted((o.time, o.fine_class) for o in onsets if o.fine_class in DOWNBEAT_CLASSES)
    if beats.size == 0 or not hits:
        return None
    times = np.array([t for t, _ in hits])
    i = np.clip(np.searchsorted(beats, times), 1, max(beats.size - 1, 1))
    gap = np.minimum(np.abs(times - beats[i - 1]), np.abs(times - beats[np.minimum(i, beats.size - 1)]))
    on_beat = [h for h, near in zip(hits, gap <= DOWNBEAT_TOLERANCE_S, strict=True) if near]
    if not on_beat:
        return None
    first = on_beat[0][0]
    # A kick in a pickup fill (snare, then snare and kick on the last beat before the crash)
    # came first and put every bar line one beat early (a charter's re-check, 2026-12-07): a crash
    # on a beat less than a bar after it starts the bar instead (one a whole bar later agrees).
    k = int(np.argmin(np.abs(beats - first)))
    around = np.diff(beats[max(k - 2, 0): k + 6])
    bar_s = BEATS_PER_BAR * float(np.median(around)) if around.size else 0.0
    crash = next((t for t, c in on_beat if c == "crash" and first <= t < first + bar_s - DOWNBEAT_TOLERANCE_S), None)
    chosen = float(crash if crash is not None else first)
    # Section crashes mark downbeats all through a song, where one missed or misnamed first hit
    # puts every bar line off (a charter's re-check, 2026-12-08: at 16 kHz the opening crash and
    # kick came out as a ride, the first kick on a beat was on beat 3, and every bar started there):
    # where most crashes on beats fall on one other beat of the bar, that beat starts the bars.
    k0 = int(np.argmin(np.abs(beats - chosen)))
    crash_beats = [int(np.argmin(np.abs(beats - t))) for t, c in on_beat if c == "crash"]
    if len(crash_beats) >= DOWNBEAT_CRASH_VOTES:
        phases = np.bincount([(k - k0) % BEATS_PER_BAR for k in crash_beats], minlength=BEATS_PER_BAR)
        phase = int(np.argmax(phases))
        if phase and phases[phase] >= 2 / 3 * len(crash_beats) and k0 + phase < beats.size:
            chosen = float(beats[k0 + phase])
    return chosen


def onset_envelope(mel: np.ndarray) -> np.ndarray:
    """The onset-strength envelope that beats are tracked on: librosa's spectral flux of a
    log-mel (first difference, positive part, mean over bins), one value per frame; the values
    of ``librosa.onset.onset_strength(S=mel, lag=1, max_size=1, center=False, detrend=False)``.

    Args:
        mel: ``(n_mels, T)`` log-mel (natural log of power, as :class:`drumtx.features.LogMel`).

    Returns:
        ``(T,)`` float32 (its first value 0).
    """
    spec = np.atleast_2d(np.asarray(mel))
    flux = np.maximum(0.0, spec[..., 1:] - spec[..., :-1])
    env = np.pad(np.mean(flux, axis=-2), (1, 0), mode="constant")
    return env.astype(np.float32)


#: ``tempo.envelope`` options: what :func:`beat_envelope` tracks beats on.
ENVELOPES = ("flux+activations", "flux")


def _setting(key: str, value: str | None, options: tuple[str, ...]) -> str:
    """``value``, or ``tempo.<key>`` of the settings file when None; one of ``options``, else ValueError."""
    value = _CFG[key] if value is None else value
    if value not in options:
        raise ValueError(f"tempo {key} must be one of {options}, got {value!r}")
    return value


def beat_envelope(
    onset_envelope: np.ndarray, activations: list[np.ndarray] | None = None, envelope: str | None = None
) -> np.ndarray:
    """The envelope the transcriber tracks beats on.

    ``"flux+activations"`` (the default): the spectral flux (:func:`onset_envelope`) and the sum
    of the model's instrument activations, each standardised over the file (zero mean, unit
    standard deviation), added, positive part. The flux hears every onset, the music's too;
    the activations are the drum hits themselves, so the kick/snare/hi-hat pattern the beat
    lives in weighs more than cymbal wash and fills. On the 120 rendered tempo-program cases
    of ``python -m drumtx.bench_tempo`` this raised the beat F-measure from 0.658 to 0.708
    (paired difference +0.050, 95 % bootstrap interval +0.031 to +0.071; better on 73 cases,
    worse on 24; experiments/tempo_map/README.md); the activations alone gave 0.703 with more
    cases worse (46). ``"flux"``: the flux alone (the earlier envelope).

    Args:
        onset_envelope: ``(T,)`` spectral flux of the log-mel (:func:`onset_envelope`).
        activations: the model's per-frame instrument activations, each ``(T',)`` in [0, 1] at the
            same frame rate (cut to the shortest length); None or empty: the flux alone.
        envelope: one of :data:`ENVELOPES`; None: ``tempo.envelope`` of
            ``conf/outputs/default.yaml``.

    Returns:
        ``(T,)`` float32 (``min(T, T')`` frames with activations), non-negative.

    Raises:
        ValueError: unknown ``envelope``.
    """
    envelope = _setting("envelope", envelope, ENVELOPES)
    flux = np.nan_to_num(np.asarray(onset_envelope, dtype=np.float64))
    if envelope == "flux" or not activations:
        return flux.astype(np.float32)
    n = min(flux.size, *(np.asarray(a).shape[0] for a in activations))
    drums = np.nan_to_num(np.sum([np.asarray(a, dtype=np.float64)[:n] for a in activations], axis=0))

    def standardised(x: np.ndarray) -> np.ndarray:
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)

    return np.maximum(0.0, standardised(flux[:n]) + standardised(drums)).astype(np.float32)


def _hann(n: int) -> np.ndarray:
    """scipy's periodic Hann window (``scipy.signal.get_window("hann", n)``), its arithmetic."""
    if n <= 1:
        return np.ones(n)
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1, dtype=np.float64)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    return w[:-1]


def _ac_frames(ac_seconds: float, fps: float) -> int:
    """The tempogram window in frames, as ``librosa.time_to_frames(ac_seconds, sr, hop)``."""
    return int(np.floor(int(np.asarray(ac_seconds) * (fps * _HOP)) // _HOP))


def _tempo_bins(win_length: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The tempo (bpm) of each tempogram lag and librosa's log-normal prior over it (120 bpm,
    one octave wide; -inf above 320 bpm)."""
    bpms = np.zeros(win_length, dtype=np.float64)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * (fps * _HOP) / (_HOP * np.arange(1.0, win_length))
    logprior = -0.5 * ((np.log2(bpms) - np.log2(120.0)) / 1.0) ** 2
    logprior[: int(np.argmax(bpms < 320.0))] = -np.inf
    return bpms, logprior


def _frame_tempi(frames: np.ndarray, bpms: np.ndarray, logprior: np.ndarray) -> np.ndarray:
    """The tempo (bpm) of each row of ``frames`` ``(m, win)`` (the envelope around a frame,
    ``win // 2`` before it): the best lag of its autocorrelation under ``logprior``. Row for row
    what ``librosa.feature.tempo(aggregate=None)`` computes (its Hann-windowed tempogram,
    normalised to its largest lag)."""
    from scipy import fft

    win_length = frames.shape[-1]
    n_pad = fft.next_fast_len(2 * win_length - 1, real=True)
    spec = fft.rfft(frames * _hann(win_length)[None, :], n=n_pad, axis=-1)
    tg = fft.irfft(spec.real**2 + spec.imag**2, n=n_pad, axis=-1)[:, :win_length]
    del spec
    length = np.max(np.abs(tg), axis=-1, keepdims=True)  # util.normalize(norm=inf)
    length[length < np.finfo(tg.dtype).tiny] = 1.0
    np.divide(tg, length, out=tg)
    np.multiply(1e6, tg, out=tg)
    np.log1p(tg, out=tg)
    tg += logprior[None, :]
    return np.take(bpms, np.argmax(tg, axis=-1))


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
    from scipy.ndimage import maximum_filter1d, median_filter

    ac_seconds = float(_CFG["ac_seconds"] if ac_seconds is None else ac_seconds)
    smooth_seconds = float(_CFG["smooth_seconds"] if smooth_seconds is None else smooth_seconds)
    block_seconds = float(_CFG["block_seconds"] if block_seconds is None else block_seconds)
    env = np.nan_to_num(np.asarray(onset_envelope, dtype=np.float64))
    n = env.size
    if n == 0:
        return np.zeros(0)
    win = _ac_frames(ac_seconds, fps)
    # The tempogram column of a frame is the envelope within win // 2 frames of it, padded by a
    # linear ramp to 0 at the file's edges: every column is computed once, block by block.
    padded = np.pad(env, (win // 2, win // 2), mode="linear_ramp", end_values=[0, 0])
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n]
    bins, logprior = _tempo_bins(win, fps)
    block = max(1, int(round(block_seconds * fps)))
    bpm = np.concatenate([_frame_tempi(frames[a : a + block], bins, logprior) for a in range(0, n, block)])
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
    onset_envelope: np.ndarray, fps: float, method: str | None = None, window_seconds: float = 15.0,
    bpm: float | None = None,
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
        bpm: the song's tempo, given (``drumtx.transcribe --bpm``): the beats are tracked at it,
            not at an estimate (``method`` is then unused); :func:`steady_grid` says whether they
            keep to one steady grid of it.

    Returns:
        ``(n_beats,)`` float64 beat times in s, increasing; empty when the envelope is
        silent or shorter than 4 frames.

    Raises:
        ValueError: unknown ``method``, or a ``bpm`` that is not a finite tempo > 0.
    """
    method = _setting("method", method, METHODS)
    if bpm is not None and not (np.isfinite(bpm) and bpm > 0):
        raise ValueError(f"a tempo is a number of beats per minute > 0, got {bpm}")
    env = np.nan_to_num(np.asarray(onset_envelope, dtype=np.float64))
    if env.size < 4 or not np.any(env > 0):
        return np.zeros(0)
    if bpm is not None:
        return beat_times(env, fps, float(bpm))
    if method == "constant":
        bpm = _constant_tempo(env, fps, window_seconds)
        if bpm is None:
            return np.zeros(0)
    else:
        bpm = local_tempo(env, fps)
    return beat_times(env, fps, bpm)


#: :func:`steady_grid`: how near (s) a tracked beat must be to the grid to be on it, and the share
#: of the tracked beats that must be on it for the grid to stand for them.
STEADY_GRID_TOLERANCE_S = float(_CFG["steady_grid_tolerance_ms"]) / 1000.0
STEADY_GRID_SHARE = float(_CFG["steady_grid_share"])
#: :func:`track_beats`: how far (a fraction) a steady tempo may lie from a ``bpm`` given and be taken.
BPM_NEAR = float(_CFG["bpm_near"])


def track_beats(
    envelope: np.ndarray, fps: float, bpm: float | None = None, steady: bool | None = None,
    span: tuple[float, float] | None = None,
) -> tuple[np.ndarray, float | None]:
    """The transcriber's beats: :func:`estimate_beats` (at ``bpm`` where given), then one steady
    grid where the tracked beats keep to one (:func:`steady_grid`): of tempo ``bpm`` where given,
    or of the steady tempo the beats keep to (:func:`steady_tempo`) when that is within
    :data:`BPM_NEAR` of it (a tempo given as 98 for a song at 100) or when no ``bpm`` is given
    and ``steady``.

    Args:
        envelope: ``(T,)`` what the beats are tracked on (:func:`beat_envelope`).
        fps: its frames per second.
        bpm: the song's tempo where known (``drumtx.transcribe --bpm``).
        steady: look for a steady grid without a ``bpm``; None: ``tempo.steady_grid`` of
            ``conf/outputs/default.yaml`` (on).
        span: ``(first, last)`` hit times (s): only the beats between them (within the grid's
            tolerance) are asked to keep to the grid, as the tracker also places beats on the
            silence before the music and on the last crash's ring-out (a charter's re-check,
            2026-12-08: 4 such beats of 53 kept a 13-bar song to a click under the 90 %); the
            grid then runs over every tracked beat's time (none before 0 s).

    Returns:
        ``(beats (n,) s, the steady grid's tempo in bpm or None)``: the grid's beats where one
        holds, else the tracked beats.

    Raises:
        ValueError: a ``bpm`` that is not a finite tempo > 0.
    """
    beats = estimate_beats(envelope, fps, bpm=bpm)
    steady = bool(_CFG["steady_grid"]) if steady is None else steady
    if beats.size == 0 or (bpm is None and not steady):
        return beats, None
    inside = beats
    if span is not None:
        inside = beats[(beats >= span[0] - STEADY_GRID_TOLERANCE_S) & (beats <= span[1] + STEADY_GRID_TOLERANCE_S)]
    over = (float(beats[0]), float(beats[-1]))
    tempo = bpm
    grid = steady_grid(inside, bpm, over=over) if bpm is not None else None
    if grid is None:  # no bpm, or the beats keep to no grid of it: the steady tempo they keep to, if any
        tempo = steady_tempo(inside)
        if tempo is None or (bpm is not None and abs(tempo / bpm - 1.0) > BPM_NEAR):
            return beats, None
        grid = steady_grid(inside, tempo, over=over)
    return (beats, None) if grid is None else (grid[grid >= 0.0], float(tempo))


def _grid_phase(beats: np.ndarray, period: float, tolerance_s: float) -> tuple[float, float]:
    """The phase (s, in ``[0, period)``) of the grid of ``period`` that puts most ``beats`` within
    ``tolerance_s`` of a grid beat, each beat's own phase a candidate, and the share it puts there.
    Counted on the sorted phases wrapped once around the period: n log n, not n x n."""
    phases = np.mod(beats, period)
    ring = np.sort(phases)
    ring = np.concatenate([ring - period, ring, ring + period])
    counts = np.searchsorted(ring, phases + tolerance_s, side="right") - np.searchsorted(ring, phases - tolerance_s)
    best = int(np.argmax(counts))
    return float(phases[best]), counts[best] / phases.size


def steady_grid(beats: np.ndarray, bpm: float, tolerance_s: float = STEADY_GRID_TOLERANCE_S,
                share: float = STEADY_GRID_SHARE, over: tuple[float, float] | None = None) -> np.ndarray | None:
    """The beats of one steady tempo ``bpm`` through tracked ``beats``, where they keep to it.

    A song recorded to a click has one tempo; tracked beats wander around it (a fill's extra
    onsets pull a few beats early, the frame grid rounds each), and a tempo map that follows
    them moves its bar lines (a charter's try, 2026-12-08: four beats of a fill at 133 bpm in a
    100 bpm song put the backbeat on 1 and 3 for the rest of it). Given the tempo, the grid's
    phase is the one that puts most tracked beats within ``tolerance_s`` of a grid beat (then
    their mean offset); it stands for the tracked beats when at least ``share`` of them are on
    it, from the first tracked beat's grid beat to the last's.

    Args:
        beats: ``(n,)`` tracked beat times (s), increasing.
        bpm: the tempo (> 0).
        tolerance_s: how near a grid beat a tracked beat must be to be on it (s).
        share: the least share of tracked beats on the grid.
        over: ``(first, last)`` times (s) the grid runs between (its beats nearest them); None:
            the first and last of ``beats``.

    Returns:
        ``(m,)`` float64 grid beat times (s), or None: fewer than 4 beats, or too few on any
        grid of that tempo (a song that changes tempo, or a tempo that is not the song's).
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 4:
        return None
    period = 60.0 / bpm
    best, _ = _grid_phase(beats, period, tolerance_s)
    offsets = (np.mod(beats, period) - best + period / 2) % period - period / 2
    on = np.abs(offsets) <= tolerance_s
    if on.mean() < share:
        return None
    phase = best + float(offsets[on].mean())
    start, end = (beats[0], beats[-1]) if over is None else over
    first = np.round((start - phase) / period)
    last = np.round((end - phase) / period)
    return phase + period * np.arange(first, last + 1)


def steady_tempo(beats: np.ndarray, tolerance_s: float = STEADY_GRID_TOLERANCE_S,
                 share: float = STEADY_GRID_SHARE, search: float = 0.03) -> float | None:
    """The tempo (bpm) of one steady grid that at least ``share`` of the tracked ``beats`` sit on
    (within ``tolerance_s``), or None: a song recorded to a click, found without being told.

    The periods within ``search`` (a fraction) of the median inter-beat interval are tried on the
    first 32 beats in steps of 0.1 %, then each best is searched again ten times finer on four
    times as many beats, until all are in (a period off by 0.02 % drifts 50 ms over 500 beats,
    so the precision must grow with the beats); each period at the phase that gathers most
    beats (:func:`steady_grid`'s rule). The last is refined by least squares through the beats on
    it. A beat the tracker put off the grid (a fill's, a skipped one) leaves the beats after it
    on the grid, where a map that follows every tracked beat shifts its bar lines by a beat from
    there on.

    Args:
        beats: ``(n,)`` tracked beat times (s), increasing.
        tolerance_s, share: as :func:`steady_grid`.
        search: how far from the median inter-beat interval the period is sought (fraction).

    Returns:
        the tempo (bpm), or None: fewer than 8 beats, or no steady grid holds ``share`` of them
        (the tempo changes or drifts, as a band playing without a click does over a song).
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 8:
        return None

    period, span, step, n = float(np.median(np.diff(beats))), search, 1e-3, 32
    while True:
        candidates = period * (1.0 + np.arange(-span, span + step / 2, step))
        scores = np.array([_grid_phase(beats[:n], p, tolerance_s)[1] for p in candidates])
        period = float(np.median(candidates[scores == scores.max()]))  # the middle of a plateau of equals
        if n >= beats.size:
            break
        n, span, step = 4 * n, 5 * step, step / 10
    phase = _grid_phase(beats, period, tolerance_s)[0]
    for _ in range(2):  # least squares through the beats on the grid, then the grid again
        index = np.round((beats - phase) / period)
        on = np.abs(beats - (phase + index * period)) <= tolerance_s
        if on.sum() < 2:
            return None
        period, phase = (float(v) for v in np.polyfit(index[on], beats[on], 1))
    index = np.round((beats - phase) / period)
    if np.mean(np.abs(beats - (phase + index * period)) <= tolerance_s) < share:
        return None
    return 60.0 / period


def beat_times(onset_envelope: np.ndarray, fps: float, bpm, tightness: float = 100.0) -> np.ndarray:
    """Beats (s) by dynamic programming: ``librosa.beat.beat_track(onset_envelope=env,
    sr=fps * 512, hop_length=512, bpm=bpm, tightness=tightness, units="time", trim=False)``,
    the same arithmetic in numpy (no numba).

    Args:
        onset_envelope: ``(T,)`` onset strength.
        fps: its frames per second.
        bpm: the tempo, one for the file or one per frame ``(T,)``; > 0.
        tightness: how strictly beats keep to ``bpm``.

    Returns:
        ``(n_beats,)`` float64 beat times in s, increasing; empty for an all-zero envelope.

    Raises:
        ValueError: a tempo <= 0 or of the wrong length.
    """
    env = np.asarray(onset_envelope, dtype=np.float64)
    n = env.size
    if n == 0 or not env.any():
        return np.zeros(0)
    bpm = np.atleast_1d(np.asarray(bpm, dtype=np.float64))
    if np.any(bpm <= 0) or bpm.size not in (1, n):
        raise ValueError(f"beat tracking needs tempi > 0, one or one per frame ({n}), got {bpm.size}")
    frames_per_beat = np.broadcast_to(np.round(float(fps * _HOP) / _HOP * 60.0 / bpm), (n,))
    score = _local_score(env / (env.std(ddof=1) + np.finfo(env.dtype).tiny), frames_per_beat)
    backlink, cumscore = _beat_dp(score, frames_per_beat, float(np.float32(tightness)))
    # the last beat: the last local maximum of the cumulative score above half their median
    peaks = np.zeros(n, dtype=bool)
    peaks[1:-1] = (cumscore[1:-1] > cumscore[:-2]) & (cumscore[1:-1] >= cumscore[2:])
    peaks[-1] = n > 1 and cumscore[-1] > cumscore[-2]
    threshold = 0.5 * np.ma.getdata(np.ma.median(np.ma.masked_array(cumscore, ~peaks)))
    last = np.flatnonzero(peaks & (cumscore >= threshold))
    frame = int(last[-1]) if last.size else n - 1
    beats = np.zeros(n, dtype=bool)
    while frame >= 0:
        beats[frame] = True
        frame = int(backlink[frame])
    # trim=False still drops beats on the zero-score frames at either end
    loud = np.flatnonzero(score > 0.0)
    if not loud.size:
        return np.zeros(0)
    beats[: loud[0]] = False
    beats[loud[-1] + 1 :] = False
    samples = (np.flatnonzero(beats) * _HOP).astype(int)
    return samples / float(fps * _HOP)


def _local_score(env: np.ndarray, frames_per_beat: np.ndarray) -> np.ndarray:
    """The envelope smoothed by a Gaussian one beat wide (+-``frames_per_beat`` frames), per
    frame with that frame's beat length: librosa's ``__beat_local_score``, summing in its order."""
    n = env.size
    out = np.zeros(n, dtype=np.float64)
    for fpb in np.unique(frames_per_beat):
        rows = np.flatnonzero(frames_per_beat == fpb)
        window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1) * 32.0 / fpb) ** 2)
        k_len = 2 * int(fpb) + 1
        h = k_len // 2
        for k in range(min(k_len, int(rows[-1]) + h)):
            # frame i takes window[k] * env[i + h - k] for max(0, i + h - n + 1) <= k < min(i + h, k_len)
            sel = rows[(k < rows + h) & (k >= rows + h - n + 1)]
            out[sel] += window[k] * env[sel + h - k]
    return out


def _beat_dp(
    score: np.ndarray, frames_per_beat: np.ndarray, tightness: float
) -> tuple[np.ndarray, np.ndarray]:
    """librosa's ``__beat_track_dp``: for every frame the best previous beat, between half and
    twice a beat back (the nearest of equal ones), and the cumulative score through it.
    Vectorised over runs of frames shorter than the shortest half beat in them, whose
    predecessors all lie before the run."""
    n = score.size
    backlink = np.full(n, -1, dtype=np.int64)
    cumscore = np.zeros(n, dtype=np.float64)
    near = np.round(frames_per_beat / 2).astype(np.int64)  # the nearest allowed predecessor
    far = (2 * frames_per_beat).astype(np.int64)  # the farthest
    log_fpb = np.log(frames_per_beat)
    with np.errstate(divide="ignore"):
        log_d = np.log(np.arange(int(far.max()) + 1, dtype=np.float64))  # log_d[0] unused
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and stop - start < near[stop]:
            stop += 1
        rows = np.arange(start, stop)
        d = np.arange(int(near[rows].min()), int(far[rows].max()) + 1)  # nearest first
        loc = rows[:, None] - d[None, :]
        ok = (d[None, :] >= near[rows, None]) & (d[None, :] <= far[rows, None]) & (loc >= 0)
        cand = cumscore[np.where(ok, loc, 0)] - tightness * (log_d[d][None, :] - log_fpb[rows, None]) ** 2
        cand = np.where(ok, cand, -np.inf)
        best = np.argmax(cand, axis=1)
        found = ok[np.arange(rows.size), best]
        best_score = cand[np.arange(rows.size), best]
        cumscore[rows] = score[rows] + np.where(found, best_score, 0.0)
        backlink[rows] = np.where(found, rows - d[best], -1)
        start = stop
    # before the first frame whose score reaches 1 % of the highest, no beat has a predecessor
    first = int(np.argmax(score >= 0.01 * score.max()))
    backlink[:first] = -1
    return backlink, cumscore
