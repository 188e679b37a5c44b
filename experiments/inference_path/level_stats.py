"""Level of training tracks as drumtx.features measures it (loudest log-mel bin, dB re the loudest
bin of a full-scale 1 kHz sine), beside their waveform peak: where ``features.level_db`` comes from.

    python experiments/inference_path/level_stats.py data/synth_gmd [N]

Reads N (default 60) random training tracks (seed 0) of an E-GMD-format folder's csv.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import numpy as np

from drumtx.audio import load_audio
from drumtx.features import LogMel, mel_level_db


def main() -> None:
    root = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    with open(next(root.glob("*.csv")), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "train"]
    random.seed(0)
    rows = random.sample(rows, min(n, len(rows)))
    features = LogMel()
    level, peak = [], []
    for r in rows:
        wave = load_audio(root / r["audio_filename"], features.sample_rate)
        level.append(mel_level_db(features.compute(wave).astype(np.float16).max(), features))
        peak.append(20 * np.log10(np.abs(wave).max()))
    level, peak = np.array(level), np.array(peak)
    for name, v in (
        ("log-mel level (dB re full-scale sine)", level),
        ("peak (dBFS)", peak),
        ("level - peak", level - peak),
    ):
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        print(
            f"{name}: median {p50:.1f}, 10th {p10:.1f}, 90th {p90:.1f}, range {v.min():.1f}..{v.max():.1f} ({len(v)} tracks)"
        )


if __name__ == "__main__":
    main()
