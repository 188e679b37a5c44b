"""A sample player for multi-sampled drum kits (Hydrogen and SFZ), seeded and sample-exact.

Per hit: the region is chosen by MIDI velocity plus a small random jitter (so hits near a
layer boundary alternate between the two layers, as a drummer's do), then by round robin
(SFZ ``seq_position``, Hydrogen ``ROUND_ROBIN``) or random alternates (``lorand``/``hirand``,
Hydrogen ``RANDOM``). The region's gain, velocity curve, pan and tuning apply; stereo
samples stay stereo. Choke (mute) groups fade a ringing voice over a short time: a kit's
own groups (SFZ ``group``/``off_by``, Hydrogen ``muteGroup``) and the kit table's
``chokes`` (a closed or pedal hi-hat cuts the open hi-hat), plus explicit cymbal chokes.

Timing: every sample's attack (first sample at or above ``attack_threshold`` of its peak,
measured once per sample after resampling) is placed on the note's time, so labels sit on
the audible attack whatever the sample's pre-roll (ForzeeStereo's start 6-14 ms early).
The part before the attack still plays, before the label.

Samples are decoded with soundfile and resampled (and pitch-shifted) once per process with
soxr, a maintained band-limited resampler, then cached. Mixing is numpy slice-adds.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumtx.synth.kits import Kit
from drumtx.synth.sampled.formats import Region, SampledKitError, SampleKit, read_kit


@dataclass
class _Sample:
    audio: np.ndarray  # (n, channels) float32 at the player's rate
    attack: int  # index of the attack


@dataclass
class _Voice:
    key: int
    region: Region
    sample: _Sample
    start: int  # output index of the sample's first frame
    amp: float
    stop: int | None = None  # output index where a choke fade starts
    fade: int = 0


def load_sample_kit(kit: Kit) -> SampleKit:
    """Read a sampled kit's file and check it against its kit table and its samples' headers
    (nothing is decoded).

    Raises:
        SampledKitError: kit file missing or malformed, a Roland note mapped to a key the kit
            has no sample for, a choke id the kit lacks, or a sample file missing, unreadable
            or cut off (one line naming the kit and file).
    """
    path = kit.soundfont
    if path is None:
        hint = ("; a synthesised kit is written by drumtx.synth.kits.select_kits or generate_missing first"
                if getattr(kit, "generator_seed", None) is not None else "")
        raise SampledKitError(f"kit {kit.name}: {kit.soundfont_candidates[0]}: kit file not found{hint}")
    sk = read_kit(kit.name, path, kit.format)
    for roland, kn in sorted(kit.notes.items()):
        for key in kn.keys:
            ins = sk.instruments.get(key)
            if ins is None or not ins.sounding:
                raise sk.error(f"Roland note {roland} is mapped to {key}, which has no sample in the kit")
    for victim, chokers in kit.chokes.items():
        for key in (victim, *chokers):
            if key not in sk.instruments:
                raise sk.error(f"choke map names {key}, which is not in the kit")
    for key in sorted({k for kn in kit.notes.values() for k in kn.keys}):
        for r in sk.instruments[key].sounding:
            if not r.sample.is_file():
                raise sk.error("sample file missing", r.sample)
            _check_sample_header(sk, r.sample)
    return sk


def _check_sample_header(sk: SampleKit, path: Path) -> None:
    """A sample whose header cannot be read, or promises more audio than the file holds (a
    cut-off copy: libsndfile reads it without an error, as a shorter sound). Headers only:
    ~0.3 ms a sample (83 samples of sfz_sams_sonor in 28 ms, 2026-12-07), where decoding them
    all takes seconds; a damaged FLAC body still fails when it is decoded."""
    import soundfile as sf

    from drumtx.audio import truncation

    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises RuntimeError/LibsndfileError for bad files
        raise sk.error(f"unreadable sample ({type(exc).__name__}: {exc})", path) from None
    cut = truncation(path, info)
    if cut:
        raise sk.error(f"sample {cut}", path)


class SamplePlayer:
    """Renders drum notes through sampled kits (:class:`drumtx.synth.kits.Kit` with format
    ``hydrogen`` or ``sfz``). Parsed kits and decoded samples are cached for the process.

    The velocity jitter (standard deviation in MIDI velocity units) and the choke fade come
    from the kit table (``velocity_jitter``, ``choke_fade_ms`` in ``conf/kits/*.yaml``; a
    region's own SFZ ``off_time`` wins for its fade).

    Args:
        sample_rate: output rate (Hz).
        tail_s: audio after the last note when no duration is given (s).
        attack_threshold: attack = first frame at or above this fraction of the sample's peak
            (the sound fonts' latency is measured with the same 10%).
        max_cache_bytes: decoded samples kept (bytes); the oldest are dropped beyond it.
    """

    def __init__(self, sample_rate: int = 24000, tail_s: float = 1.5, attack_threshold: float = 0.1,
                 max_cache_bytes: int = 3 << 30):
        self.sample_rate = int(sample_rate)
        # Decoded samples are kept up to this many bytes, the oldest dropped first: a recipe that
        # retunes kits per track (data.synth.production.tuning_prob) decodes each sample at many
        # pitches. Dropping one only costs decoding it again; the audio is the same.
        self.max_cache_bytes = int(max_cache_bytes)
        self._cache_bytes = 0
        self.tail_s = float(tail_s)
        self.attack_threshold = float(attack_threshold)
        self._kits: dict[tuple[str, str], SampleKit] = {}
        self._samples: dict[tuple[str, float], _Sample] = {}

    # ------------------------------------------------------------------ loading
    def kit(self, kit: Kit) -> SampleKit:
        """The parsed kit, checked against its Roland map (every mapped key must sound).

        Raises:
            SampledKitError: kit file missing or malformed, a mapped key or choke id the
                kit lacks, or a sample file missing (one line naming the kit and file).
        """
        ck = (kit.name, str(kit.soundfont))
        if ck not in self._kits:
            self._kits[ck] = load_sample_kit(kit)
        return self._kits[ck]

    def _sample(self, sk: SampleKit, region: Region, semitones: float, end_fade_ms: float) -> _Sample:
        ck = (str(region.sample), round(region.semitones + semitones, 4), region.offset, end_fade_ms)
        if ck not in self._samples:
            import soundfile as sf
            import soxr

            try:
                audio, rate = sf.read(str(region.sample), dtype="float32", always_2d=True)
            except Exception as exc:  # libsndfile raises RuntimeError/LibsndfileError for bad files
                raise sk.error(f"unreadable sample ({type(exc).__name__}: {exc})", region.sample) from None
            audio = audio[region.offset:]
            if audio.size == 0:
                raise sk.error("empty sample", region.sample)
            # Pitch shift = play the sample as if recorded at rate * 2^(semitones / 12).
            in_rate = rate * 2.0 ** ((region.semitones + semitones) / 12.0)
            if abs(in_rate - self.sample_rate) > 1e-6:
                audio = soxr.resample(audio, in_rate, self.sample_rate, quality="HQ")
            audio = np.array(audio[:, :2], dtype=np.float32)  # a writable copy, at most stereo
            # Several kits' samples stop abruptly (up to -32 dB re their peak: Millo-Drums'
            # snare3), which clicks, an onset with no label; a short linear fade-out removes it.
            n_fade = min(len(audio), int(round(end_fade_ms / 1000 * self.sample_rate)))
            if n_fade > 1:
                audio[-n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)[:, None]
            level = np.max(np.abs(audio), axis=1)
            peak = float(level.max()) if level.size else 0.0
            attack = int(np.argmax(level >= self.attack_threshold * peak)) if peak > 0 else 0
            self._samples[ck] = _Sample(audio, attack)
            self._cache_bytes += audio.nbytes
            while self._cache_bytes > self.max_cache_bytes and len(self._samples) > 1:
                self._cache_bytes -= self._samples.pop(next(iter(self._samples))).audio.nbytes
        return self._samples[ck]

    # ------------------------------------------------------------------ playing
    @staticmethod
    def default_seed(kit: Kit, notes: Sequence) -> int:
        """A seed from the kit name and the notes, so an unseeded render is still reproducible."""
        h = hashlib.sha1(kit.name.encode())
        for n in notes:
            h.update(f"{n.start:.6f},{n.pitch},{n.velocity};".encode())
        return int.from_bytes(h.digest()[:8], "little")

    @staticmethod
    def _choose(ins, vel: float, jitter: float, rng: np.random.Generator, counters: dict) -> list[Region]:
        """The regions one hit of ``ins`` at ``vel`` plays (jitter, alternates, round robin)."""
        # MIDI velocities are whole numbers: SFZ ranges (lovel..hivel) are integer and inclusive.
        jittered = int(round(np.clip(vel + rng.normal(0.0, jitter), 1, 127))) if jitter else int(round(vel))
        rand = float(rng.random())
        seq = counters.get(ins.key, 0)
        counters[ins.key] = seq + 1

        def matching(v):
            return [r for r in ins.regions if r.lovel <= v <= r.hivel and r.lorand <= rand < r.hirand
                    and (r.seq_length <= 1 or (seq % r.seq_length) + 1 == r.seq_position)]

        regions = matching(jittered) or matching(int(round(vel)))
        if not regions:  # a gap in the kit's velocity ranges: the nearest layer plays
            sounding = ins.sounding
            if not sounding:
                return []
            regions = [min(sounding, key=lambda r: (max(r.lovel - vel, vel - r.hivel, 0.0), r.lovel))]
        if ins.select == "first":
            return regions[:1]
        if ins.select == "round_robin":
            return [regions[seq % len(regions)]]
        if ins.select == "random":
            return [regions[int(rng.integers(len(regions)))]]
        return regions

    def render(self, kit: Kit, notes: Sequence, duration: float | None = None, velocity_curve: float = 1.0,
               seed: int | Sequence[int] | None = None, stereo: bool = False,
               chokes: Iterable[tuple[float, int]] = ()) -> np.ndarray:
        """Play ``notes`` (Roland TD-17 :class:`drumtx.synth.render.Note`) on a sampled kit.

        Args:
            kit: a kit of format ``hydrogen`` or ``sfz``.
            notes: the hits; each Roland note plays the kit keys of ``kit.notes``.
            duration: length of the audio (s); default: ``tail_s`` after the last note.
            velocity_curve: the synth hears ``127 * (v / 127) ** curve`` (as KitRenderer).
            seed: seeds layer jitter and alternates; default :meth:`default_seed`.
            stereo: return (n, 2) instead of the mono mix.
            chokes: (time s, Roland note) cymbal chokes: the note's voices fade from that time.

        Returns:
            float32 audio at ``sample_rate``: shape (n,) or (n, 2) when ``stereo``.

        Raises:
            SampledKitError: see :meth:`kit`, or an unreadable sample.
        """
        sk = self.kit(kit)
        sr = self.sample_rate
        base_seed = self.default_seed(kit, notes) if seed is None else seed
        base_seed = [int(x) for x in np.atleast_1d(base_seed)]
        events = []  # (time s, order, kind, payload)
        for i, n in enumerate(notes):
            kn = kit.notes.get(n.pitch)
            if kn is None:
                continue  # callers map to Roland first; unknown notes are counted there
            heard = 127 * (n.velocity / 127) ** velocity_curve
            for j, key in enumerate(kn.keys):
                vel = float(min(127, max(1, heard * kn.scale(j))))
                events.append((n.start - kit.lead_ms(n.pitch, key) / 1000, i, j, "hit", (key, vel, kn.semitones)))
        for t, roland in chokes:
            kn = kit.notes.get(int(roland))
            if kn is not None:
                events.append((float(t), -1, 0, "choke", tuple(kn.keys)))
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        fade_default = max(1, int(round(kit.choke_fade_ms / 1000 * sr)))
        choked_by: dict[int, set[int]] = {}
        for victim, chokers in kit.chokes.items():
            for c in chokers:
                choked_by.setdefault(c, set()).add(victim)
        voices: list[_Voice] = []
        active: list[_Voice] = []
        counters: dict[int, int] = {}

        def cut(at: int, pred) -> None:
            for v in active:
                if v.stop is None and v.start + v.sample.attack < at and pred(v):
                    v.stop = at
                    off = v.region.off_time
                    v.fade = max(1, int(round(off * sr))) if off is not None else fade_default

        for t, _, _, kind, payload in events:
            at = int(round(t * sr))
            if kind == "choke":
                cut(at, lambda v, keys=payload: v.key in keys)
                continue
            key, vel, semis = payload
            ins = sk.instruments[key]
            # Each hit draws from its own stream (seed, time, key): leaving one note out does not
            # change the others' layers, so a note's own sound is the difference of two renders.
            rng = np.random.default_rng([*base_seed, at + 2**40, key])
            regions = self._choose(ins, vel, kit.velocity_jitter, rng, counters)
            victims = choked_by.get(key, set())
            groups = {r.group for r in regions if r.group}
            if victims or groups:
                cut(at, lambda v, vs=victims, gs=groups: v.key in vs or (v.region.off_by in gs))
            for r in regions:
                if r.sample is None:
                    continue  # a silent region: only its choke group mattered
                s = self._sample(sk, r, semis, kit.end_fade_ms)
                voice = _Voice(key, r, s, at - s.attack, r.amplitude(vel))
                voices.append(voice)
                active.append(voice)
            # drop voices that ended long ago from the choke search
            if len(active) > 256:
                active = [v for v in active if v.start + len(v.sample.audio) > at]
        last = max((n.start for n in notes), default=0.0)
        total = duration if duration is not None else last + self.tail_s
        n_out = max(1, int(math.ceil(total * sr)))
        out = np.zeros((n_out, 2), np.float32)
        for v in voices:
            audio = v.sample.audio
            end = len(audio)
            if v.stop is not None:
                end = min(end, v.stop + v.fade - v.start)
            lo = max(0, -v.start)
            hi = min(end, n_out - v.start)
            if hi <= lo:
                continue
            seg = audio[lo:hi]
            gains = np.array([min(1.0, 1.0 - v.region.pan), min(1.0, 1.0 + v.region.pan)], np.float32) * v.amp
            if v.stop is not None:
                ramp = np.ones(hi - lo, np.float32)
                first = v.stop - v.start - lo  # index in seg where the fade starts
                idx = np.arange(hi - lo)
                fading = idx >= first
                ramp[fading] = np.clip(1.0 - (idx[fading] - first) / v.fade, 0.0, 1.0)
                seg = seg * ramp[:, None]
            if seg.shape[1] == 1:
                out[v.start + lo:v.start + hi] += seg * gains[None, :]
            else:
                out[v.start + lo:v.start + hi] += seg[:, :2] * gains[None, :]
        if stereo:
            return out
        return out.mean(axis=1).astype(np.float32)
