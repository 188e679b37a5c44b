"""The crash per kit slice of drumtx.evaluate reports: precision, recall, crashes found / played,
and what the reference crashes were heard as (the report's confusion matrix, all kits pooled).

    python experiments/cymbal_samples/crash_by_kit.py NAME=REPORT_FOLDER ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", help="NAME=FOLDER (a drumtx.evaluate report folder)")
    args = p.parse_args(argv)
    rows, heard = [], []
    for item in args.reports:
        name, _, folder = item.partition("=")
        m = json.loads((Path(folder) / "metrics.json").read_text())
        for kit, s in m["slices"]["groups"]["kit_name"].items():
            c = s["classes"].get("crash", {})
            rows.append(f"| {name} | {kit} | {100 * (c.get('precision') or 0):.0f} | {100 * (c.get('recall') or 0):.0f} | "
                        f"{c.get('tp')} / {c.get('n_ref')} | {c.get('n_est')} |")
        conf = m["confusion"]["all"]
        labels, row = conf["labels"], conf["matrix"][conf["labels"].index("crash")]
        top = sorted(((n, lab) for n, lab in zip(row, labels, strict=True) if n), reverse=True)[:4]
        heard.append(f"| {name} | " + ", ".join(f"{lab} {n}" for n, lab in top) + " |")
    print("| model | kit | crash P % | R % | found / played | estimated |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\n| model | reference crashes heard as (all kits) |")
    print("|---|---|")
    print("\n".join(heard))
    return 0


if __name__ == "__main__":
    sys.exit(main())
