"""Play drum notes through a sound-font kit with FluidSynth (the pyfluidsynth binding), or
through a sampled kit (Hydrogen, SFZ) with :mod:`drumtx.synth.sampled`.

Timing is exact by construction: FluidSynth applies note events at the start of its
64-sample blocks, so note times are first snapped to that grid (:func:`snap_notes`,
1.33 ms at 48 kHz), the renderer always advances by whole blocks, and the MIDI file is
written with one tick per block (:func:`write_midi`). Audio, the written MIDI and the
labels read back from it then agree to the sample.

Rendering happens at ``render_rate`` (48 kHz by default) and is decimated to the output
rate with a polyphase anti-alias filter: FluidSynth's interpolation does not band-limit,
so rendering straight at 24 kHz would fold cymbal energy above 12 kHz back into the band.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drumtx.synth.kits import Kit

BLOCK = 64  # FluidSynth's internal block (FLUID_BUFSIZE): events apply at block starts
MIDI_TEMPO_BPM = 60.0  # the written MIDI's tempo: one beat per second, so a tick is 1/(rate/64) s


class RenderError(RuntimeError):
    """FluidSynth refused a sound font or preset."""


@dataclass(frozen=True)
class Note:
    """One drum hit in Roland TD-17 numbering. ``end`` is kept for the MIDI file only."""

    start: float
    end: float
    pitch: int
    velocity: int


def check_render_rate(render_rate: int) -> None:
    if render_rate % BLOCK or render_rate < 8000:
        raise ValueError(f"render_rate must be a multiple of {BLOCK} Hz (e.g. 48000), got {render_rate}")


def snap_notes(notes: Iterable[Note], render_rate: int = 48000) -> list[Note]:
    """Notes with start times on the FluidSynth block grid (and sorted), so audio and MIDI agree."""
    check_render_rate(render_rate)
    grid = BLOCK / render_rate
    out = []
    for n in notes:
        start = max(0.0, round(n.start / grid) * grid)
        end = max(start + grid, round(n.end / grid) * grid)
        out.append(Note(start, end, int(n.pitch), int(min(127, max(1, n.velocity)))))
    out.sort(key=lambda n: (n.start, n.pitch))
    return out


def write_midi(notes: Sequence[Note], path: str | Path, render_rate: int = 48000) -> None:
    """Write snapped notes as a one-track drum MIDI file (GM channel 10, Roland note numbers).

    Tempo 60 bpm and ``render_rate / 64`` ticks per beat make one tick one FluidSynth block,
    so every snapped time is a whole number of ticks: the file holds the rendered times
    exactly. The performance tempo is in the csv ``bpm`` column instead.
    """
    import pretty_midi

    check_render_rate(render_rate)
    resolution = render_rate // BLOCK
    midi = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=MIDI_TEMPO_BPM)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    drums.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    midi.instruments.append(drums)
    midi.write(str(path))


def read_midi_notes(path: str | Path) -> list[Note]:
    """All notes of a MIDI file's drum tracks (any track when none is flagged as drums)."""
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many types for corrupt files
        raise ValueError(f"{path}: unreadable MIDI ({type(exc).__name__}: {exc})") from None
    tracks = [i for i in midi.instruments if i.is_drum] or midi.instruments
    notes = [Note(n.start, n.end, n.pitch, n.velocity) for i in tracks for n in i.notes]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def _write_float():
    """``fluid_synth_write_float`` from the binding's library handle.

    pyfluidsynth's ``get_samples`` only offers dithered int16; float output keeps the
    render exact, deterministic (no dither noise) and free of clipping before normalisation.
    """
    import fluidsynth

    fn = fluidsynth._fl.fluid_synth_write_float
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                   ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


class KitRenderer:
    """One FluidSynth synthesizer per sound font, loaded on first use and kept for the process.

    :meth:`render` resets every channel first, so a track's audio never depends on what
    was rendered before it (parallel workers stay deterministic).
    """

    #: Channels for pitch-shifted notes (never 9, the GM drum channel).
    SHIFT_CHANNELS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15)

    def __init__(self, render_rate: int = 48000, sample_rate: int = 24000, hold_s: float = 3.0,
                 tail_s: float = 1.5, polyphony: int = 256):
        check_render_rate(render_rate)
        self.render_rate = int(render_rate)
        self.sample_rate = int(sample_rate)
        self.hold_s = float(hold_s)
        self.tail_s = float(tail_s)
        self.polyphony = int(polyphony)
        self._synths: dict[str, tuple[object, int]] = {}
        self._write = None
        self._player = None  # the sample player for sampled kits, made on first use

    def _synth(self, soundfont: Path):
        key = str(soundfont)
        if key not in self._synths:
            import fluidsynth

            synth = fluidsynth.Synth(
                gain=1.0, samplerate=float(self.render_rate),
                **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": self.polyphony,
                   "synth.cpu-cores": 1,
                   # load a preset's samples when it is selected: an .sf3 otherwise decodes
                   # every sample of the font up front (seconds per worker for MuseScore).
                   "synth.dynamic-sample-loading": 1},
            )
            sfid = synth.sfload(key)
            if sfid < 0:
                raise RenderError(f"{soundfont}: FluidSynth could not load the sound font")
            self._synths[key] = (synth, sfid)
            if self._write is None:
                self._write = _write_float()
        return self._synths[key]

    def _prime(self, synth, sfid: int, kit: Kit) -> None:
        """Sound every voice of the pool once with the kit's preset, then silence them.

        FluidSynth voices keep state from the note they last played (the first samples of
        a new note differ by up to 0.03 of full scale with that history), so a track would
        depend on what the process rendered before it and parallel builds would not be
        reproducible. Voices are handed out lowest free index first, so after this fixed
        sequence every voice a track can get has the same history.
        """
        for chan in range(16):
            synth.all_sounds_off(chan)
        self._pull(synth, BLOCK)
        target = self.polyphony - 2
        channels = [kit.channel] + [c for c in range(16) if c != kit.channel]
        for chan in channels:  # every channel on the kit, so one key can sound many voices at once
            synth.program_select(chan, sfid, kit.bank, kit.program)
        keys = sorted({k for kn in kit.notes.values() for k in kn.keys})
        strikes = ((chan, key, vel) for vel in (127, 90, 60, 30) for chan in channels for key in keys)
        for chan, key, vel in strikes:
            if synth.get_active_voice_count() >= target:
                break
            synth.noteon(chan, key, vel)
        self._pull(synth, BLOCK)
        for chan in range(16):
            synth.all_sounds_off(chan)
        self._pull(synth, BLOCK)

    def close(self) -> None:
        for synth, _ in self._synths.values():
            synth.delete()
        self._synths.clear()

    def _pull(self, synth, n: int, stereo: bool = False) -> np.ndarray:
        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        self._write(synth.synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        return np.stack([left, right], axis=1) if stereo else (left + right) * 0.5

    def _prepare(self, kit: Kit):
        font = kit.soundfont
        if font is None:
            raise RenderError(f"kit {kit.name}: none of its sound fonts is installed: {list(kit.soundfont_candidates)}")
        synth, sfid = self._synth(font)
        shifts = sorted({kn.semitones for kn in kit.notes.values() if kn.semitones})
        channel_of = {0.0: kit.channel}
        free = [c for c in self.SHIFT_CHANNELS if c != kit.channel]
        if len(shifts) > len(free):
            raise RenderError(f"kit {kit.name}: {len(shifts)} distinct pitch shifts, more than the {len(free)} "
                              "MIDI channels free for them")
        for s in shifts:
            channel_of[s] = free.pop(0)
        self._prime(synth, sfid, kit)
        for chan in range(16):
            synth.all_sounds_off(chan)
            synth.cc(chan, 121, 0)  # reset all controllers (pitch bend included)
        for semis, chan in channel_of.items():
            if synth.program_select(chan, sfid, kit.bank, kit.program) != 0:
                raise RenderError(f"kit {kit.name}: {font} has no preset bank {kit.bank} program {kit.program}")
            synth.cc(chan, 7, 127)  # full channel volume: level is set after rendering
            if semis:
                # RPN 0 (pitch-bend range) = 12 semitones, then bend to the shift.
                for ctrl, val in ((101, 0), (100, 0), (6, 12), (38, 0), (101, 127), (100, 127)):
                    synth.cc(chan, ctrl, val)
                synth.pitch_bend(chan, int(round(semis / 12 * 8191)))
        return synth, channel_of

    @property
    def player(self):
        """The :class:`drumtx.synth.sampled.SamplePlayer` that plays sampled kits."""
        if self._player is None:
            from drumtx.synth.sampled import SamplePlayer

            self._player = SamplePlayer(self.sample_rate, tail_s=self.tail_s)
        return self._player

    def render(self, kit: Kit, notes: Sequence[Note], duration: float | None = None,
               velocity_curve: float = 1.0, seed=None, stereo: bool = False) -> np.ndarray:
        """Mono float32 audio at ``sample_rate`` of the snapped ``notes`` played on ``kit``.

        Sampled kits (``kit.format`` hydrogen or sfz) are played by :attr:`player` (with
        ``seed`` for its layer jitter and alternates); sound-font kits by FluidSynth.
        ``stereo=True`` returns (n, 2) (the kit's own panning and stereo samples); the mono
        render is the mean of the two channels.

        Notes are held ``hold_s`` (drum modules ignore short note-offs) and the audio lasts
        ``duration`` seconds, or until ``tail_s`` after the last note. ``velocity_curve`` is a
        drum module's velocity curve: the synth hears ``127 * (v / 127) ** curve``, so a curve
        below 1 lifts soft notes (General MIDI fonts make a velocity-20 ghost note ~35 dB
        quieter than an accent, far softer than on a real kit). The notes keep their velocity.

        Args:
            kit: the kit (sound-font preset or sampled kit) from :mod:`drumtx.synth.kits`.
            notes: Roland TD-17 notes (start/end in seconds, velocity 1..127); notes the kit
                does not map are left out.
            duration: length of the audio in seconds; None: ``tail_s`` after the last note.
            velocity_curve: the exponent above (1: as played).
            seed: the sample player's seed (sampled kits only); None: derived from kit and notes.
            stereo: return both channels.

        Returns:
            float32 audio at ``sample_rate`` Hz, shape (n,), or (n, 2) with ``stereo``.

        Raises:
            RenderError: none of the kit's sound fonts is installed or loads, or the font lacks
                the kit's preset.
            drumtx.synth.sampled.SampledKitError: a sampled kit or one of its samples is unreadable.
        """
        if kit.sampled:
            return self.player.render(kit, notes, duration=duration, velocity_curve=velocity_curve, seed=seed,
                                      stereo=stereo)
        synth, channel_of = self._prepare(kit)
        rate = self.render_rate
        strikes: dict[tuple[int, int], list[tuple[int, int, int]]] = {}  # (chan, key) -> (on, hold, vel)
        for n in notes:
            kn = kit.notes.get(n.pitch)
            if kn is None:
                continue  # callers map to Roland first; unknown notes are counted there
            hold = max(1, round(max(n.end - n.start, self.hold_s) * rate / BLOCK))
            heard = 127 * (n.velocity / 127) ** velocity_curve
            for i, key in enumerate(kn.keys):
                vel = int(min(127, max(1, round(heard * kn.scale(i)))))
                on = max(0, round((n.start - kit.lead_ms(n.pitch, key) / 1000) * rate / BLOCK))
                strikes.setdefault((channel_of[kn.semitones], key), []).append((on, hold, vel))
        events = []  # (block, is_on, channel, key, velocity): note-offs sort before note-ons
        for (chan, key), hits in strikes.items():
            hits.sort()
            for i, (on, hold, vel) in enumerate(hits):
                events.append((on, 1, chan, key, vel))
                # A note-off releases every voice of the key, so it is sent only when the key
                # is not struck again before it: a re-strike must not be cut by an old note-off.
                if i + 1 == len(hits) or hits[i + 1][0] > on + hold:
                    events.append((on + hold, 0, chan, key, 0))
        last = max((n.start for n in notes), default=0.0)
        total = duration if duration is not None else last + self.tail_s
        n_blocks = max(1, math.ceil(total * rate / BLOCK))
        audio = play_events(synth, events, n_blocks, lambda n: self._pull(synth, n, stereo))
        return resample(audio, rate, self.sample_rate)


def play_events(synth, events: Iterable[tuple[int, int, int, int, int]], n_blocks: int,
                pull: Callable[[int], np.ndarray]) -> np.ndarray:
    """Play note events on a FluidSynth ``synth`` block by block; the audio of ``n_blocks`` blocks.

    The one event loop of :class:`KitRenderer` and :class:`drumtx.synth.accompaniment.MusicRenderer`:
    the synth advances by whole blocks of :data:`BLOCK` samples, so each event sounds at the start
    of its block; events at or after the end are dropped, and every channel is silenced afterwards.

    Args:
        synth: a ``fluidsynth.Synth`` with its programs selected.
        events: ``(block, is_on, channel, key, velocity)``; sorted here, so at one block the
            note-offs (``is_on`` 0) come before the note-ons (1).
        n_blocks: the length in blocks (>= 1).
        pull: renders the next ``n`` samples of ``synth``: float32, shape (n,) or (n, 2).

    Returns:
        float32 audio at the synth's rate, ``n_blocks * BLOCK`` samples (shape as ``pull``'s).
    """
    out, pos = [], 0
    for block, is_on, chan, key, vel in sorted(events):
        block = min(block, n_blocks)
        if block > pos:
            out.append(pull((block - pos) * BLOCK))
            pos = block
        if block >= n_blocks:
            break
        if is_on:
            synth.noteon(chan, key, vel)
        else:
            synth.noteoff(chan, key)
    if n_blocks > pos:
        out.append(pull((n_blocks - pos) * BLOCK))
    for chan in range(16):
        synth.all_sounds_off(chan)
    return np.concatenate(out)


def resample(audio: np.ndarray, orig_sr: int, sample_rate: int) -> np.ndarray:
    """Polyphase resampling with scipy's anti-alias FIR (zero-phase: onsets do not move), along axis 0."""
    if orig_sr == sample_rate:
        return audio.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = math.gcd(int(orig_sr), int(sample_rate))
    return resample_poly(audio, sample_rate // g, orig_sr // g).astype(np.float32)
