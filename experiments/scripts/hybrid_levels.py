"""Cymbal-to-drum balance of whole kits and of hybrid kits (data=synth_songs_hybrid).

    .venv/bin/python experiments/scripts/hybrid_levels.py

Renders one fixed four-bar pattern (hi-hat then ride eighths, kick, snare, two crashes) on every
training kit of synth_songs, its cymbals (drumtx.synth.dataset.CYMBAL_NOTES) and the rest apart,
and prints the RMS balance cymbals re drums (dB) of each kit and, over every ordered pair, of the
hybrid that takes its cymbals from the other kit: how far a hybrid moves the balance from whole
kits when each kit plays at its own level (data.synth.production.cymbal_kit_level_match=false;
data=synth_songs_hybrid sets it true, which scales the drawn kit's cymbals to the own kit's RMS
on the same notes and so keeps the kit's own balance).
"""

from __future__ import annotations

import itertools

import numpy as np
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.synth.dataset import CYMBAL_NOTES
from drumtx.synth.kits import load_kits
from drumtx.synth.render import KitRenderer, Note, snap_notes


def pattern() -> list[Note]:
    notes = []
    for bar in range(4):  # 120 bpm: hi-hat eighths in bars 1-2, ride in 3-4; kick 1 and 3, snare 2 and 4
        t0 = bar * 2.0
        notes += [Note(t0 + i * 0.25, t0 + i * 0.25 + 0.1, 42 if bar < 2 else 51, 90) for i in range(8)]
        notes += [Note(t0 + b, t0 + b + 0.1, 36, 100) for b in (0.0, 1.0)]
        notes += [Note(t0 + b, t0 + b + 0.1, 38, 100) for b in (0.5, 1.5)]
    notes += [Note(0.0, 0.1, 49, 110), Note(4.0, 4.1, 57, 110)]
    return snap_notes(notes)


def main() -> None:
    train = list(OmegaConf.load(CONF_DIR / "data" / "synth_songs.yaml").synth.train_kits)
    kits = load_kits()
    renderer = KitRenderer(48000, 24000, 3.0, 1.5)
    notes = pattern()
    cymbals = [n for n in notes if n.pitch in CYMBAL_NOTES]
    drums = [n for n in notes if n.pitch not in CYMBAL_NOTES]

    def db(x: np.ndarray) -> float:
        return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))

    level = {}
    for name in train:
        kit = kits[name]
        level[name] = tuple(db(renderer.render(kit, part, duration=9.5, velocity_curve=0.7)) for part in (cymbals, drums))
        print(f"{name:22s} cymbals re drums {level[name][0] - level[name][1]:+6.1f} dB")
    own = np.array([c - d for c, d in level.values()])
    pairs = [(level[donor][0] - level[kit][1], kit, donor) for kit, donor in itertools.permutations(train, 2)]
    hybrid = np.array([p[0] for p in pairs])
    moved = np.array([level[donor][0] - level[kit][0] for _, kit, donor in pairs])
    print(f"whole kits: {own.min():+.1f} .. {own.max():+.1f} dB (median {np.median(own):+.1f}), {len(own)} kits")
    print(f"hybrids: {hybrid.min():+.1f} .. {hybrid.max():+.1f} dB (median {np.median(hybrid):+.1f}), {len(pairs)} pairs; "
          f"moved more than 10 dB from the kit's own balance in {(np.abs(moved) > 10).sum()}")


if __name__ == "__main__":
    main()
