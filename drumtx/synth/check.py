"""Do labels and audio agree? Onset checks for rendered kits, and the kit latency measurement.

Two tools, used by the tests and by ``python -m drumtx.synth.kits``:

* :func:`measure_latency`: how late each kit key's sample starts (first sample above 10%
  of the hit's peak). The numbers live in ``conf/kits/latency.yaml`` and the renderer
  triggers each key that much earlier, so the attack lands on the label.
* :func:`onset_agreement`: render a groove one label at a time (so a quiet hi-hat is not
  masked by a crash in the mix), find onsets with librosa's spectral flux peak picking,
  and report every note with no onset within ``tol`` of its label. The detector's own
  delay is calibrated on synthetic noise bursts with known onset times and removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from drumtx.synth.kits import Kit, KitNote
from drumtx.synth.render import KitRenderer, Note, snap_notes

HOP = 24  # 1 ms at 24 kHz
N_FFT = 512
#: Peak-picking threshold on the un-normalised log-mel flux (dB per frame, mean over bands):
#: normalising by the track maximum would let one hit out of silence hide every later one.
DELTA = 0.3


def _envelope(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return librosa.onset.onset_strength(
        y=audio, sr=sr, hop_length=HOP, n_fft=N_FFT, n_mels=64, fmax=min(11000.0, sr / 2), lag=1, max_size=1
    )


def _detect(audio: np.ndarray, sr: int, delta: float) -> np.ndarray:
    import librosa

    env = _envelope(audio, sr)
    w = max(1, int(round(0.015 * sr / HOP)))  # one onset per 15 ms
    return librosa.onset.onset_detect(
        onset_envelope=env, sr=sr, hop_length=HOP, units="time", backtrack=False, delta=delta, normalize=False,
        wait=w, pre_max=w, post_max=w, pre_avg=int(0.1 * sr / HOP), post_avg=w,
    )


@lru_cache(maxsize=8)
def detector_delay(sr: int, delta: float = DELTA) -> float:
    """Median lateness (s) of the detector on 40 noise bursts of known onset (instant attacks)."""
    rng = np.random.default_rng(0)
    times = np.arange(0.2, 8.2, 0.2)
    audio = np.zeros(int(8.5 * sr), np.float32)
    n = int(0.02 * sr)
    for i, t in enumerate(times):
        k = int(round(t * sr))
        audio[k:k + n] += rng.normal(0, 0.1 + 0.2 * (i % 4), n) * np.exp(-np.arange(n) / (0.003 * sr))
    found = _detect(audio, sr, delta)
    return float(np.median([found[np.argmin(np.abs(found - t))] - t for t in times]))


def detect_onsets(audio: np.ndarray, sr: int, delta: float = DELTA) -> np.ndarray:
    """Onset times (s) from librosa spectral-flux peak picking, with the detector delay removed."""
    return _detect(audio, sr, delta) - detector_delay(sr, delta)


@dataclass
class Agreement:
    kit: str
    notes: int = 0
    misses: list[tuple[float, int, int, float | None]] = field(default_factory=list)  # (time, pitch, vel, error s)
    errors: list[float] = field(default_factory=list)  # onset - label (s) of the matched notes
    isolated: int = 0  # notes matched only on their own contribution (masked in the stem)
    onsets: int = 0
    extra: int = 0  # detected onsets with no note within 2 * tol

    @property
    def recall(self) -> float:
        return 1.0 - len(self.misses) / max(1, self.notes)

    def update(self, other: Agreement) -> None:
        self.notes += other.notes
        self.misses += other.misses
        self.errors += other.errors
        self.isolated += other.isolated
        self.onsets += other.onsets
        self.extra += other.extra

    def summary(self) -> str:
        err = np.asarray(self.errors) * 1000
        med = f"{np.median(err):+.1f}" if err.size else "n/a"
        return (f"{self.kit}: {self.notes - len(self.misses)}/{self.notes} notes have an onset within tolerance "
                f"(median error {med} ms, {self.isolated} checked in isolation), {self.extra}/{self.onsets} onsets "
                f"without a note; misses (t, note, vel, err ms): "
                f"{[(round(t, 3), p, v, e and round(e * 1000, 1)) for t, p, v, e in self.misses[:6]]}")


def _nearest(found: np.ndarray, t: float) -> float | None:
    return float(found[np.argmin(np.abs(found - t))] - t) if found.size else None


def onset_agreement(renderer: KitRenderer, kit: Kit, notes: Sequence[Note], tol: float = 0.010,
                    shift: float = 0.0, delta: float = DELTA, velocity_curve: float = 0.7,
                    isolate: bool = True) -> Agreement:
    """Match every note (label time + ``shift``) to a spectral-flux onset within ``tol``.

    Each distinct kit sound is rendered as a stem of its own. A note with no onset in its
    stem (a ghost note in the ring of a backbeat, a ride stroke in its own wash) is then
    checked on its own contribution: the stem minus the stem rendered without it. FluidSynth
    is deterministic, so the difference is exactly that note's sound in context.
    """
    notes = snap_notes(notes, renderer.render_rate)
    sr = renderer.sample_rate
    duration = max(n.start for n in notes) + renderer.tail_s
    stems: dict[object, list[Note]] = defaultdict(list)
    for n in notes:
        stems[kit.notes[n.pitch]].append(n)  # one stem per distinct kit sound
    report = Agreement(kit.name)

    def render(group):  # a fixed seed: a sampled kit then plays each note alike with or without the others
        return renderer.render(kit, group, duration=duration, velocity_curve=velocity_curve, seed=0)

    for group in stems.values():
        audio = render(group)
        found = detect_onsets(audio, sr, delta)
        times = np.array([n.start for n in group]) + shift
        for i, (n, t) in enumerate(zip(group, times, strict=True)):
            report.notes += 1
            err = _nearest(found, t)
            if (err is None or abs(err) > tol) and isolate:
                alone = audio - render(group[:i] + group[i + 1:])
                err = _nearest(detect_onsets(alone, sr, delta), t)
                report.isolated += 1
            if err is None or abs(err) > tol:
                report.misses.append((n.start, n.pitch, n.velocity, err))
            else:
                report.errors.append(err)
        report.onsets += int(found.size)
        report.extra += int(sum(np.min(np.abs(times - o)) > 2 * tol for o in found))
    return report


def measure_latency(renderer: KitRenderer, kit: Kit, velocity: int = 100, threshold: float = 0.1) -> dict[int, float]:
    """Per kit key: ms from note-on to the first sample above ``threshold`` x the hit's peak.

    Measured with no latency compensation and on the render grid, so it is what the
    renderer must subtract.
    """
    at = 0.2
    out: dict[int, float] = {}
    done: set[tuple[int, float]] = set()
    for roland, kn in sorted(kit.notes.items()):
        for key in kn.keys:
            if (key, kn.semitones) in done:
                continue
            done.add((key, kn.semitones))
            single = replace(kit, offset_ms=0.0, latency_ms={}, notes={roland: KitNote((key,), kn.semitones)})
            audio = renderer.render(single, snap_notes([Note(at, at + 0.1, roland, velocity)], renderer.render_rate),
                                    duration=at + 0.6)
            a = np.abs(audio)
            if a.max() <= 0:
                continue
            first = int(np.argmax(a >= threshold * a.max()))
            out[key] = round(max(0.0, first / renderer.sample_rate - at) * 1000, 1)
    return out


def reference_grooves(seed: int, seconds: float = 10.0):
    """Six generated grooves that play every Roland note (edges, rims, bell, crashes, fills).

    Used to calibrate each kit's residual offset (seed 1, ``python -m drumtx.synth.kits``)
    and, with another seed, by the tests.
    """
    from drumtx.synth.generator import GrooveConfig, GrooveGenerator

    gen = GrooveGenerator(GrooveConfig(edge=0.5, bell=1.0, ride=0.5, open_hat=1.0, fill=1.0, crash=1.0,
                                       rimshot=0.35, cross_stick=0.3))
    specs = [("rock", 112), ("funk", 96), ("jazz", 132), ("shuffle", 92), ("metal", 140), ("disco", 120)]
    return [gen.generate([seed, i], seconds, style=style, bpm=bpm) for i, (style, bpm) in enumerate(specs)]


def measure_offset(renderer: KitRenderer, kit: Kit, grooves) -> float:
    """Median onset error (ms) of a kit's notes in generated grooves.

    What is left after the per-key latency: in a groove a hit often lands on the ring of
    the one before, and the flux peak comes a little later than on a hit out of silence.
    """
    total = Agreement(kit.name)
    for groove in grooves:
        total.update(onset_agreement(renderer, kit, groove.notes))
    return round(float(np.median(total.errors)) * 1000, 1) if total.errors else 0.0
