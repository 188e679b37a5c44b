"""The drum vocabulary, kept as data in one place.

Three tables and nothing else:

* ``INSTRUMENTS``: the instruments the model detects, in output order, each with its
  variations (the *fine classes*). The five-branch heads, the flat baseline, the decoder,
  the evaluation and the charts all read their class lists from here.
* ``NOTE_MAPS``: input note maps, MIDI note -> fine-class label, one per source device
  (Roland TD-17/TD-11 for E-GMD and GMD, General MIDI for everything else).
* ``OUTPUT_NOTES``: fine class -> General MIDI drum note written by transcription.

Labels in a note map are fine classes, except two *articulation* labels that a
:class:`TargetPolicy` resolves: ``cross_stick`` (snare rim by default) and
``hihat_pedal`` (dropped by default). Notes missing from a map are ignored and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

# instrument -> fine classes (variations), in the order of the variation heads.
# The design fixes these orders: tom variation 0 floor / 1 high / 2 mid,
# hi-hat variation 0 closed / 1 open, ride variation 0 body / 1 bell.
INSTRUMENTS: dict[str, tuple[str, ...]] = {
    "kick": ("kick",),
    "snare": ("snare_head", "snare_rim"),
    "tom": ("tom_floor", "tom_high", "tom_mid"),
    "hihat": ("hihat_closed", "hihat_open"),
    "ride": ("ride", "ride_bell"),
    "crash": ("crash",),
    "hihat_pedal": ("hihat_pedal",),  # only when TargetPolicy.hihat_pedal is on
}

#: Articulation labels that are not fine classes; TargetPolicy decides what they become.
ARTICULATIONS = ("cross_stick", "hihat_pedal")

NOTE_MAPS: dict[str, dict[int, str]] = {
    # Roland TD-17 / TD-11 as recorded in E-GMD and the Groove MIDI Dataset.
    "roland_td17": {
        36: "kick",
        38: "snare_head",
        40: "snare_rim",
        37: "cross_stick",
        48: "tom_high", 50: "tom_high",  # tom 1 head, rim
        45: "tom_mid", 47: "tom_mid",  # tom 2 head, rim
        43: "tom_floor", 58: "tom_floor",  # tom 3 head, rim
        46: "hihat_open", 26: "hihat_open",  # open bow, edge
        42: "hihat_closed", 22: "hihat_closed",  # closed bow, edge
        44: "hihat_pedal",
        49: "crash", 55: "crash",  # crash 1 bow, edge
        57: "crash", 52: "crash",  # crash 2 bow, edge
        51: "ride", 59: "ride",  # ride bow, edge
        53: "ride_bell",
    },
    # General MIDI level 1 percussion key map (channel 10).
    "general_midi": {
        35: "kick", 36: "kick",
        38: "snare_head", 40: "snare_head",  # acoustic, electric snare
        37: "cross_stick",
        41: "tom_floor", 43: "tom_floor",
        45: "tom_mid", 47: "tom_mid",
        48: "tom_high", 50: "tom_high",
        42: "hihat_closed",
        46: "hihat_open",
        44: "hihat_pedal",
        49: "crash", 57: "crash", 52: "crash", 55: "crash",  # crash 1/2, china, splash
        51: "ride", 59: "ride",
        53: "ride_bell",
    },
}

#: fine class -> GM drum note written by transcription (GM drum channel 10).
OUTPUT_NOTES: dict[str, int] = {
    "kick": 36,
    "snare_head": 38,
    "snare_rim": 40,
    "tom_floor": 43,
    "tom_mid": 45,
    "tom_high": 48,
    "hihat_closed": 42,
    "hihat_open": 46,
    "ride": 51,
    "ride_bell": 53,
    "crash": 49,
    "hihat_pedal": 44,
}


@dataclass(frozen=True)
class Vocabulary:
    """The instruments and fine classes in use for one model (pedal on or off)."""

    hihat_pedal: bool = False

    @property
    def instruments(self) -> dict[str, tuple[str, ...]]:
        return {k: v for k, v in INSTRUMENTS.items() if self.hihat_pedal or k != "hihat_pedal"}

    @property
    def fine_classes(self) -> list[str]:
        return [c for fine in self.instruments.values() for c in fine]

    def instrument_of(self, fine_class: str) -> str:
        for inst, fine in self.instruments.items():
            if fine_class in fine:
                return inst
        raise KeyError(f"unknown fine class {fine_class!r}; known: {self.fine_classes}")

    def index(self, fine_class: str) -> int:
        return self.fine_classes.index(fine_class)


def note_map(name: str) -> dict[int, str]:
    """Return the input note map ``name`` or fail with the list of known maps."""
    try:
        return NOTE_MAPS[name]
    except KeyError:
        raise KeyError(f"unknown note map {name!r}; choose one of {sorted(NOTE_MAPS)}") from None
