"""MIDI notes -> fine-class onsets -> frame targets (multi-hot and hierarchical), and back.

The path every label takes:

1. :func:`read_midi_onsets` maps each note through an input note map (:mod:`drumtx.vocab`)
   and a :class:`TargetPolicy` to an :class:`Onset`; notes the map does not know are
   ignored *and counted*, never dropped silently.
2. :func:`onset_roll` puts onsets on a frame grid: a multi-hot ``(T, C)`` roll over the fine
   classes (the flat baseline's target, and the ground truth for frame metrics).
3. :func:`hierarchical_targets` turns the roll into the five-branch targets. Single-label
   targets cannot hold two labels in one frame (hi-hat and ride, two toms, head and rim);
   every such collision is counted and resolved as the policy says.
4. :func:`targets_to_onsets` and :func:`onsets_to_midi` go back to GM drum MIDI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumtx.vocab import OUTPUT_NOTES, Vocabulary, note_map

#: The hierarchical targets, their number of classes and, for variations, the parent
#: (target, value) that must be present for the variation to count.
HIERARCHY: dict[str, tuple[int, tuple[str, int] | None]] = {
    "kick": (2, None),
    "snare": (3, None),
    "tom_primary": (2, None),
    "tom_variation": (3, ("tom_primary", 1)),
    "cymbal_primary": (3, None),
    "hihat_variation": (2, ("cymbal_primary", 1)),
    "ride_variation": (2, ("cymbal_primary", 2)),
    "crash": (2, None),
    "hihat_pedal": (2, None),
}

# The single-label *slots*: fine classes that compete for one target per frame.
# fine class -> (instrument group, primary value, variation target, variation value).
SLOTS: dict[str, dict[str, tuple[str, int, str | None, int]]] = {
    "snare": {"snare_head": ("snare", 1, None, 0), "snare_rim": ("snare", 2, None, 0)},
    "tom": {
        "tom_floor": ("tom_floor", 1, "tom_variation", 0),
        "tom_high": ("tom_high", 1, "tom_variation", 1),
        "tom_mid": ("tom_mid", 1, "tom_variation", 2),
    },
    "cymbal": {
        "hihat_closed": ("hihat", 1, "hihat_variation", 0),
        "hihat_open": ("hihat", 1, "hihat_variation", 1),
        "ride": ("ride", 2, "ride_variation", 0),
        "ride_bell": ("ride", 2, "ride_variation", 1),
    },
}
SLOT_PRIMARY = {"snare": "snare", "tom": "tom_primary", "cymbal": "cymbal_primary"}


@dataclass(frozen=True)
class Onset:
    time: float  # seconds
    fine_class: str
    velocity: int = 100  # MIDI velocity 1..127


#: ``TargetPolicy.cross_stick`` and ``TargetPolicy.collision`` options (the config schema offers these).
CROSS_STICK_MODES = ("snare_rim", "snare_head", "ignore")
COLLISION_MODES = ("shift", "priority")


@dataclass
class TargetPolicy:
    """How note labels become targets. Every field is a config option (``data.targets``)."""

    cross_stick: str = "snare_rim"  # snare_rim | snare_head | ignore
    hihat_pedal: bool = False  # dropped by default, as the design asks
    # When two *different* instruments share a slot in one frame (two toms, hi-hat and ride):
    # shift = move the loser one frame (10 ms) later if that frame is free, else drop;
    # priority = drop the loser. Two variations of one instrument (snare head and rim,
    # open and closed hi-hat, ride bow and bell) are one hit: the first in priority wins.
    collision: str = "shift"
    # Per slot, first listed wins a frame.
    priority: dict[str, list[str]] = field(
        default_factory=lambda: {
            "snare": ["snare_rim", "snare_head"],
            "tom": ["tom_floor", "tom_mid", "tom_high"],
            "cymbal": ["ride_bell", "ride", "hihat_open", "hihat_closed"],
        }
    )

    def __post_init__(self) -> None:
        if self.cross_stick not in CROSS_STICK_MODES:
            raise ValueError(f"cross_stick must be snare_rim, snare_head or ignore, not {self.cross_stick!r}")
        if self.collision not in COLLISION_MODES:
            raise ValueError(f"collision must be shift or priority, not {self.collision!r}")
        for slot, order in self.priority.items():
            members = SLOTS.get(slot)
            if members is None:
                raise ValueError(f"priority.{slot}: no such slot; slots: {', '.join(SLOTS)}")
            if isinstance(order, str) or sorted(order) != sorted(members):
                raise ValueError(f"priority.{slot} must list exactly {sorted(members)} in some order, got {order}")

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary(hihat_pedal=self.hihat_pedal)


@dataclass
class LabelCounts:
    """Everything that happened to the labels of one or more tracks, for the statistics report."""

    onsets: Counter = field(default_factory=Counter)  # fine class -> onsets kept
    ignored_notes: Counter = field(default_factory=Counter)  # MIDI note -> count (not in the map)
    dropped: Counter = field(default_factory=Counter)  # label -> count dropped by policy (pedal, ignore)
    merged: Counter = field(default_factory=Counter)  # fine class -> onsets merged into one frame
    collisions: Counter = field(default_factory=Counter)  # collision kind -> count
    collisions_dropped: Counter = field(default_factory=Counter)  # kind -> labels lost to a collision

    def update(self, other: LabelCounts) -> None:
        for name in ("onsets", "ignored_notes", "dropped", "merged", "collisions", "collisions_dropped"):
            getattr(self, name).update(getattr(other, name))

    def to_dict(self) -> dict:
        return {
            name: {str(k): int(v) for k, v in sorted(getattr(self, name).items(), key=lambda kv: str(kv[0]))}
            for name in ("onsets", "ignored_notes", "dropped", "merged", "collisions", "collisions_dropped")
        }


def read_midi_onsets(
    path: str | Path, note_map_name: str, policy: TargetPolicy, counts: LabelCounts | None = None
) -> list[Onset]:
    """All drum onsets of a MIDI file, sorted by time.

    Raises ``ValueError`` with a one-line reason when the file cannot be parsed.
    """
    counts = counts if counts is not None else LabelCounts()
    return notes_to_onsets(midi_drum_notes(load_midi(path), counts), note_map_name, policy, counts)


def load_midi(path: str | Path):
    """``pretty_midi.PrettyMIDI`` of a file, or ``ValueError`` with a one-line reason."""
    import pretty_midi

    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many types for corrupt files
        reason = " ".join(str(exc).split())  # one line, whatever the parser wrote
        if not reason:  # mido's EOFError for an empty or cut-off file says nothing
            reason = "the file ends too early (empty or cut off)" if isinstance(exc, EOFError) else "no reason given"
        raise ValueError(f"unreadable MIDI {path}: {type(exc).__name__}: {reason}") from None


def midi_drum_notes(midi, counts: LabelCounts | None = None) -> list[tuple[float, int, int]]:
    """``(time, pitch, velocity)`` of the drum notes of a ``PrettyMIDI``.

    Only drum tracks (channel 10) are read when the file has one, so that melodic parts of a
    full arrangement are not taken for drums; their notes are counted as
    ``dropped["non_drum_track"]``. A file without any drum track is read whole (drum MIDI
    exported without the channel-10 flag).
    """
    counts = counts if counts is not None else LabelCounts()
    has_drums = any(inst.is_drum for inst in midi.instruments)
    notes = []
    for inst in midi.instruments:
        if has_drums and not inst.is_drum:
            if inst.notes:
                counts.dropped["non_drum_track"] += len(inst.notes)
            continue
        notes.extend((n.start, n.pitch, n.velocity) for n in inst.notes)
    return notes


def notes_to_onsets(notes, note_map_name: str, policy: TargetPolicy, counts: LabelCounts | None = None) -> list[Onset]:
    """Map ``(time, pitch, velocity)`` triples to onsets through a note map and the policy."""
    mapping = note_map(note_map_name)
    counts = counts if counts is not None else LabelCounts()
    onsets = []
    for time, pitch, velocity in notes:
        label = mapping.get(int(pitch))
        if label is None:
            counts.ignored_notes[int(pitch)] += 1
            continue
        if label == "cross_stick":
            if policy.cross_stick == "ignore":
                counts.dropped["cross_stick"] += 1
                continue
            label = policy.cross_stick
        if label == "hihat_pedal" and not policy.hihat_pedal:
            counts.dropped["hihat_pedal"] += 1
            continue
        onsets.append(Onset(float(time), label, int(velocity)))
    onsets.sort(key=lambda o: (o.time, o.fine_class))
    return onsets


def n_frames_for(duration: float, fps: float) -> int:
    return int(np.floor(duration * fps)) + 1


def onset_roll(
    onsets: list[Onset], n_frames: int, fps: float, vocab: Vocabulary, counts: LabelCounts | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot onset roll ``(T, C)`` uint8 and velocity roll ``(T, C)`` float32 (velocity/127).

    An onset lands on frame ``round(time * fps)``. Two onsets of one class in one frame
    (a flam closer than a frame) become one and are counted as ``merged``.
    """
    classes = vocab.fine_classes
    roll = np.zeros((n_frames, len(classes)), dtype=np.uint8)
    velocity = np.zeros((n_frames, len(classes)), dtype=np.float32)
    counts = counts if counts is not None else LabelCounts()
    for onset in onsets:
        frame = int(round(onset.time * fps))
        if not 0 <= frame < n_frames:
            counts.dropped["outside_audio"] += 1
            continue
        c = classes.index(onset.fine_class)
        if roll[frame, c]:
            counts.merged[onset.fine_class] += 1
        else:
            counts.onsets[onset.fine_class] += 1
        roll[frame, c] = 1
        velocity[frame, c] = max(velocity[frame, c], onset.velocity / 127.0)
    return roll, velocity


def hierarchical_targets(
    roll: np.ndarray, vocab: Vocabulary, policy: TargetPolicy, counts: LabelCounts | None = None
) -> dict[str, np.ndarray]:
    """The five-branch targets (int64 ``(T,)`` arrays) from a multi-hot fine roll.

    Collision kinds counted: ``tom`` (two toms) and ``cymbal`` (hi-hat and ride), which the
    policy may shift by one frame; ``snare`` (head and rim), ``hihat`` (open and closed) and
    ``ride`` (bow and bell), where the first in priority wins. Variation targets are 0
    wherever their parent is absent; the loss masks them there.
    """
    counts = counts if counts is not None else LabelCounts()
    col = {c: i for i, c in enumerate(vocab.fine_classes)}
    T = roll.shape[0]
    out = {name: np.zeros(T, dtype=np.int64) for name in HIERARCHY if name != "hihat_pedal"}
    out["kick"][:] = roll[:, col["kick"]]
    out["crash"][:] = roll[:, col["crash"]]
    if vocab.hihat_pedal:
        out["hihat_pedal"] = roll[:, col["hihat_pedal"]].astype(np.int64)
    for slot, members in SLOTS.items():
        _fill_slot(roll, col, slot, members, policy, counts, out)
    return out


def _fill_slot(roll, col, slot, members, policy, counts, out) -> None:
    """Give each frame of one slot a single winner; count and resolve every loser."""
    order = policy.priority[slot]
    if sorted(order) != sorted(members):
        raise ValueError(f"priority.{slot} must list exactly {sorted(members)}, got {order}")
    slot_roll = roll[:, [col[c] for c in members]].astype(bool)
    occupied = slot_roll.any(axis=1)

    def assign(t: int, fine: str) -> None:
        _, primary, var_target, var_value = members[fine]
        out[SLOT_PRIMARY[slot]][t] = primary
        if var_target:
            out[var_target][t] = var_value

    for t in np.flatnonzero(occupied):
        candidates = sorted((c for c in members if roll[t, col[c]]), key=order.index)
        winner = candidates[0]
        assign(t, winner)
        for loser in candidates[1:]:
            same_instrument = members[loser][0] == members[winner][0]
            kind = members[winner][0] if same_instrument else slot
            counts.collisions[kind] += 1
            # A shifted hit moves to a frame with no hit of this slot, so it cannot collide again.
            if policy.collision == "shift" and not same_instrument and t + 1 < len(occupied) and not occupied[t + 1]:
                assign(t + 1, loser)
                occupied[t + 1] = True
            else:
                counts.collisions_dropped[kind] += 1


def targets_to_onsets(targets: dict[str, np.ndarray], fps: float, vocab: Vocabulary) -> list[Onset]:
    """Inverse of :func:`hierarchical_targets`: every frame with a hit becomes an onset."""
    onsets = []

    def add(frames, fine):
        onsets.extend(Onset(float(t) / fps, fine) for t in np.flatnonzero(frames))

    add(targets["kick"] == 1, "kick")
    add(targets["snare"] == 1, "snare_head")
    add(targets["snare"] == 2, "snare_rim")
    for value, fine in enumerate(("tom_floor", "tom_high", "tom_mid")):
        add((targets["tom_primary"] == 1) & (targets["tom_variation"] == value), fine)
    hh, rd = targets["cymbal_primary"] == 1, targets["cymbal_primary"] == 2
    add(hh & (targets["hihat_variation"] == 0), "hihat_closed")
    add(hh & (targets["hihat_variation"] == 1), "hihat_open")
    add(rd & (targets["ride_variation"] == 0), "ride")
    add(rd & (targets["ride_variation"] == 1), "ride_bell")
    add(targets["crash"] == 1, "crash")
    if vocab.hihat_pedal and "hihat_pedal" in targets:
        add(targets["hihat_pedal"] == 1, "hihat_pedal")
    onsets.sort(key=lambda o: (o.time, o.fine_class))
    return onsets


def onsets_to_midi(onsets: list[Onset], note_length: float = 0.1, tempo_bpm: float = 120.0):
    """A ``pretty_midi.PrettyMIDI`` with one drum track (GM channel 10) holding the onsets."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo_bpm)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    for onset in onsets:
        drums.notes.append(
            pretty_midi.Note(
                velocity=int(np.clip(onset.velocity, 1, 127)),
                pitch=OUTPUT_NOTES[onset.fine_class],
                start=onset.time,
                end=onset.time + note_length,
            )
        )
    midi.instruments.append(drums)
    return midi
