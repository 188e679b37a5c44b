"""One row per evaluation report of the same tracks: onset P / R / F (micro over instruments, %)
for every track and for grooves and fills apart (the report's beat_type slices), the fills' onsets
found and estimated, drum-only and with music apart, and each row's
change in F against the first row with its 95 % interval (a paired bootstrap over tracks: 2,000
draws, seed 0), so a difference can be told from chance.

    python experiments/edge_silence/table.py NAME=metrics.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def prf(d: dict) -> str:
    return " / ".join(f"{100 * d[k]:.1f}" for k in ("precision", "recall", "f_measure"))


def counts_of(track: dict) -> np.ndarray:
    return np.array([track["tp"], track["n_ref"], track["n_est"]], dtype=float)


def counts(m: dict, beat_type: str | None) -> dict[str, np.ndarray]:
    """Per-track (tp, n_ref, n_est) by track name, of one beat type or all."""
    return {t["track"]: counts_of(t) for t in m["tracks"] if beat_type is None or t.get("beat_type") == beat_type}


def delta_f(ref: dict, new: dict, draws: int = 2000) -> str:
    """F(new) - F(ref) in points, with the paired bootstrap's 95 % interval."""
    names = sorted(ref)
    if sorted(new) != names:
        raise SystemExit("table.py: the reports hold different tracks; a paired comparison needs the same ones")
    a, b = np.stack([ref[n] for n in names]), np.stack([new[n] for n in names])
    idx = np.random.default_rng(0).integers(0, len(names), (draws, len(names)))

    def f(c: np.ndarray) -> np.ndarray:
        s = c.sum(axis=-2)
        return 2 * s[..., 0] / np.maximum(s[..., 1] + s[..., 2], 1)

    d = 100 * (f(b) - f(a))
    lo, hi = np.percentile(100 * (f(b[idx]) - f(a[idx])), [2.5, 97.5])
    return f"{d:+.2f} ({lo:+.2f} … {hi:+.2f})"


def main(args: list[str]) -> None:
    if not args:
        sys.exit(__doc__.strip())
    reports = []
    for arg in args:
        name, _, path = arg.partition("=")
        reports.append((name, json.loads(Path(path).read_text())))
    print("| edge silence (s) | all: P / R / F | grooves: P / R / F | fills: P / R / F | ΔF all | ΔF fills | "
          "fills: found / estimated, drum-only | with music | tracks (fills) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ref = reports[0][1]
    for name, m in reports:
        bt = m["slices"]["groups"]["beat_type"]
        overall = m["levels"]["instrument"]["overall"]["micro"]
        deltas = ["–", "–"] if m is ref else [delta_f(counts(ref, b), counts(m, b)) for b in (None, "fill")]
        fills = [sum((counts_of(t) for t in m["tracks"] if t.get("beat_type") == "fill"
                      and ("+music" in t.get("kit_name", "")) == music), start=np.zeros(3)) for music in (False, True)]
        print(f"| {name} | {prf(overall)} | {prf(bt['beat']['overall']['micro'])} | "
              f"{prf(bt['fill']['overall']['micro'])} | {deltas[0]} | {deltas[1]} | "
              + " | ".join(f"{c[0]:.0f} / {c[2]:.0f}" for c in fills) + f" | {m['n_tracks']} ({bt['fill']['n_tracks']}) |")


if __name__ == "__main__":
    main(sys.argv[1:])
