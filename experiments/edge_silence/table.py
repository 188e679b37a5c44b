"""One row per evaluation report: onset P / R / F (micro over instruments, %), for every track and
for grooves and fills apart (the report's beat_type slices).

    python experiments/edge_silence/table.py EDGE_S=metrics.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def prf(d: dict) -> str:
    return " / ".join(f"{100 * d[k]:.1f}" for k in ("precision", "recall", "f_measure"))


def main(args: list[str]) -> None:
    if not args:
        sys.exit(__doc__.strip())
    print("| edge silence (s) | all: P / R / F | grooves: P / R / F | fills: P / R / F | tracks (fills) |")
    print("|---:|---:|---:|---:|---:|")
    for arg in args:
        name, _, path = arg.partition("=")
        m = json.loads(Path(path).read_text())
        bt = m["slices"]["groups"]["beat_type"]
        overall = m["levels"]["instrument"]["overall"]["micro"]
        print(f"| {name} | {prf(overall)} | {prf(bt['beat']['overall']['micro'])} | "
              f"{prf(bt['fill']['overall']['micro'])} | {m['n_tracks']} ({bt['fill']['n_tracks']}) |")


if __name__ == "__main__":
    main(sys.argv[1:])
