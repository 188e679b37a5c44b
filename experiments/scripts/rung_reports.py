"""The rung reports ``drumtx.evaluate`` wrote for the default model v2 runs, found by run and rung:
``--root``/<run>/eval_<rung>/ first (default outputs/default_model_v2), then the stash
(experiments/default_model_v2/resume/<run>). Shared by crash_pr_auc.py and ship_rows.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STASH = Path(__file__).resolve().parents[1] / "default_model_v2" / "resume"
ROOT = Path("outputs/default_model_v2")


def load(run: str, rung: str, root: Path, files: tuple[str, ...] = ("metrics.json",)) -> tuple[dict, ...] | None:
    """The JSON FILES of RUN's report on RUNG (e.g. ``a_unseen_soundfont_kits``), all from the first
    folder that has them all; None where neither has them."""
    for base in (root, STASH):
        d = base / run / f"eval_{rung}"
        if all((d / f).is_file() for f in files):
            return tuple(json.loads((d / f).read_text()) for f in files)
    return None


def runs_parser(prog: str, doc: str, runs_help: str) -> argparse.ArgumentParser:
    """A command line of run folder names (positional) and ``--root``."""
    ap = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help=runs_help)
    ap.add_argument("--root", type=Path, default=ROOT,
                    help="where <run>/eval_<rung>/ reports are looked for first (then the stash)")
    return ap
