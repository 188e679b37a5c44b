"""How often the first hit of a file is found, with and without edge silence: the shipped model on
N tracks of a rendered dataset (a seeded draw), each track's onsets against its MIDI's, classes
ignored (a hit within 50 ms of a reference onset; onsets closer than 20 ms merged on both sides).

    python experiments/edge_silence/first_hit.py [--data data/synth_songs_electronic] [-n 120] [--edge 1.5]

Prints, per setting: the share of tracks starting on a hit (first onset before 30 ms) whose first
hit is found, and recall / precision over every onset of the N tracks.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pretty_midi

from drumtx.transcriber import Transcriber


def merged(times, tol: float = 0.02) -> np.ndarray:
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] > tol:
            out.append(t)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/synth_songs_electronic"))
    ap.add_argument("-n", type=int, default=120)
    ap.add_argument("--edge", type=float, default=1.5)
    args = ap.parse_args()
    tracks = sorted(p for p in args.data.rglob("*.midi") if p.with_suffix(".flac").exists())
    if not tracks:
        raise SystemExit(f"{args.data}: no rendered tracks (.midi beside .flac)")
    np.random.default_rng(0).shuffle(tracks)
    tracks = tracks[: args.n]
    tx = Transcriber.from_checkpoint()
    for edge in (0.0, args.edge):
        tx.settings = replace(tx.settings, edge_silence_seconds=edge)
        first, tp, n_ref, n_est = [], 0, 0, 0
        for midi in tracks:
            ref = merged(n.start for i in pretty_midi.PrettyMIDI(str(midi)).instruments for n in i.notes)
            est = merged(o.time for o in tx.transcribe(midi.with_suffix(".flac")).onsets)
            used = np.zeros(est.size, bool)
            hits = []
            for r in ref:  # greedy, in time order
                d = np.where(used, np.inf, np.abs(est - r)) if est.size else np.array([np.inf])
                j = int(np.argmin(d))
                hits.append(bool(d[j] <= 0.05))
                if hits[-1]:
                    used[j] = True
            if ref.size and ref[0] < 0.03:
                first.append(hits[0])
            tp, n_ref, n_est = tp + sum(hits), n_ref + ref.size, n_est + est.size
        print(f"edge silence {edge:g} s: first hit found in {np.mean(first):.1%} of {len(first)} tracks that start "
              f"on one; recall {tp / n_ref:.2%}, precision {tp / n_est:.2%} ({len(tracks)} tracks, classes ignored)",
              flush=True)


if __name__ == "__main__":
    main()
