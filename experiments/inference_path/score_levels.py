"""Case C17 (one take at many levels), scored: the notes ``python -m drumtx.transcribe`` finds in each
file of ``../shared/cases/make_C17_quiet.py``'s output, against its truth.json, with levelling on
(the default) and off (``--level-db off``, the fixed -70 dB gate of before).

    python /work/shared/cases/make_C17_quiet.py OUT
    python experiments/inference_path/score_levels.py OUT [--ckpt PATH]

Adds 0 and -10 dBFS copies of the take (the case's float files scaled back up), transcribes every
file with the packaged model (or --ckpt), prints a markdown table: per level, per instrument,
onsets found / in the truth, F-measure (+-50 ms), and whether the notes equal the loudest take's.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from drumtx import transcribe as tx
from drumtx.metrics import onset_counts

INSTRUMENTS = ("kick", "snare", "hihat")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case_dir", type=Path)
    ap.add_argument("--ckpt", default=None)
    args = ap.parse_args()
    case = args.case_dir
    truth = json.loads((case / "truth.json").read_text())["onsets"]
    x, sr = sf.read(case / "peak-20dBFS.wav", dtype="float32")
    for db in (0, -10):
        sf.write(case / f"peak{db:+d}dBFS.wav", x * 10 ** ((db + 20) / 20), sr, subtype="FLOAT")
    files = sorted(case.glob("peak*.wav"), key=lambda p: (-int(p.stem[4:7].replace("d", "")), p.stem))
    print(
        "| level | levelling | "
        + " | ".join(f"{i} found/true (F)" for i in INSTRUMENTS)
        + " | notes = loudest take's |"
    )
    print("|---|---|" + "---:|" * len(INSTRUMENTS) + "---|")
    for mode, extra in (("on (default)", []), ("off", ["--level-db", "off"])):
        out = case / ("out" if not extra else "out_off")
        argv = [
            *map(str, files),
            "-o",
            str(out),
            "--format",
            "csv",
            "-q",
            "--threads",
            "1",
            "--overwrite",
            *extra,
        ]
        if args.ckpt:
            argv += ["--ckpt", args.ckpt]
        assert tx.main(argv) == 0
        first = None
        for f in files:
            with open(out / f"{f.stem}.csv", newline="") as fh:
                rows = [(round(float(r["time"]), 2), r["class"]) for r in csv.DictReader(fh)]
            first = rows if first is None else first
            cells = []
            for inst in INSTRUMENTS:
                ref = [t for t, c in truth if c == inst]
                est = [t for t, c in rows if c == inst]
                cells.append(
                    f"{len(est)}/{len(ref)} ({onset_counts(np.array(ref), est, 0.05).f_measure:.2f})"
                )
            label = f.stem.replace("peak", "")
            print(f"| {label} | {mode} | " + " | ".join(cells) + f" | {'yes' if rows == first else 'no'} |")


if __name__ == "__main__":
    main()
