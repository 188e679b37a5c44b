"""Score threshold sets on cached validation activations (``drumtx.tune_thresholds``' probability
cache, :class:`drumtx.thresholds.SplitProbs`): per instrument P / R / F (+-50 ms, micro over tracks) for each set.

    python experiments/inference_path/compare_thresholds.py PROBS.npz NAME=THRESHOLDS.json [NAME=...]

THRESHOLDS.json: a bundle meta (``thresholds`` key), a tune_thresholds run's ``thresholds.json``,
or ``{instrument: {threshold, min_gap_s}}``. Prints a markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from drumtx.thresholds import instrument_counts
from drumtx.vocab import Vocabulary


def main() -> None:
    probs_path, sets = Path(sys.argv[1]), [a.split("=", 1) for a in sys.argv[2:]]
    with np.load(probs_path, allow_pickle=False) as z:
        instruments = [str(s) for s in z["instruments"]]
        fps = float(z["fps"])
        n = len(z["tracks"])
        acts = [z[f"act_{i}"].astype(np.float32) for i in range(n)]
        refs_t = [z[f"ref_t_{i}"] for i in range(n)]
        refs_i = [z[f"ref_i_{i}"] for i in range(n)]
    vocab = Vocabulary()
    print(f"{n} tracks ({probs_path.name})\n")
    print("| thresholds | " + " | ".join(f"{i} P/R/**F**" for i in instruments) + " | mean F |")
    print("|---|" + "---:|" * (len(instruments) + 1))
    for name, file in sets:
        doc = json.loads(Path(file).read_text())
        th = doc.get("thresholds", doc)
        cells, fs = [], []
        for k, inst in enumerate(instruments):
            total = instrument_counts([a[:, k] for a in acts], [rt[ri == k] for rt, ri in zip(refs_t, refs_i, strict=True)],
                                      fps, inst, th[inst], vocab=vocab, window=0.05)
            fs.append(total.f_measure)
            cells.append(
                f"{100 * total.precision:.1f}/{100 * total.recall:.1f}/**{100 * total.f_measure:.1f}**"
            )
        print(f"| {name} | " + " | ".join(cells) + f" | {100 * np.mean(fs):.1f} |")
    print()
    for name, file in sets:
        doc = json.loads(Path(file).read_text())
        th = doc.get("thresholds", doc)
        print(
            f"{name}: "
            + ", ".join(
                f"{i} {th[i]['threshold']:.2f}/{1000 * th[i]['min_gap_s']:.0f} ms" for i in instruments
            )
        )


if __name__ == "__main__":
    main()
