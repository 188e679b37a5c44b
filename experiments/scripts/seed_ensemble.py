"""Would averaging two seeds' activations help? A look on the tuning tracks, before any code.

    .venv/bin/python experiments/scripts/seed_ensemble.py \
        outputs/default_model_v2/electronic_w4_s42/best.validation.probs.npz \
        outputs/default_model_v2/electronic_w4_s43/best.validation.probs.npz \
        --out experiments/default_model_v2/seed_ensemble/electronic.json

Each input is a run's probability cache of the tracks its thresholds were tuned on (written by
``drumtx.tune_thresholds`` beside ``best.safetensors``; both seeds tuned on the same tracks). Three
"models" are compared: each seed alone and the frame-wise mean of the two. Each is tuned and
scored by two-fold cross-validation over tracks (tracks alternate between folds in sorted order;
thresholds tuned on one fold with the tuner's own objective, ``drumtx.thresholds.tune_instrument``
and conf/tune_thresholds.yaml's crash precision floor, then scored on the other; onset counts
summed over both folds), so no number is scored on the tracks it was tuned on. Prints a table of
P / R / F per instrument and writes the counts as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from drumtx.metrics import OnsetCounts
from drumtx.thresholds import SplitProbs, instrument_counts, tune_instrument
from drumtx.vocab import Vocabulary

CONF = Path(__file__).resolve().parents[2] / "conf" / "tune_thresholds.yaml"


def cross_validated(acts, refs, fps, instrument, cfg) -> OnsetCounts:
    vocab = Vocabulary(hihat_pedal=instrument == "hihat_pedal")
    floor = (cfg.min_precision or {}).get(instrument)
    total = OnsetCounts()
    for fold in (0, 1):
        tune_i = [i for i in range(len(acts)) if i % 2 == fold]
        test_i = [i for i in range(len(acts)) if i % 2 != fold]
        res = tune_instrument(
            [acts[i] for i in tune_i], [refs[i] for i in tune_i], fps, instrument=instrument, vocab=vocab,
            min_precision=floor, floor_confidence=cfg.floor_confidence, fallback_beta=cfg.fallback_beta,
            n_trials=cfg.n_trials, seed=cfg.seed, window=cfg.window_s,
        )
        settings = {"threshold": res.threshold, "min_gap_s": res.min_gap_s}
        total = total + instrument_counts([acts[i] for i in test_i], [refs[i] for i in test_i], fps, instrument,
                                          settings, vocab=vocab, window=cfg.window_s)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("caches", nargs=2, type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = OmegaConf.load(CONF)
    a, b = (SplitProbs.load(p, None) for p in args.caches)
    if a is None or b is None:
        raise SystemExit("seed_ensemble: a cache is missing or unreadable")
    if a.tracks != b.tracks or a.instruments != b.instruments or a.fps != b.fps:
        raise SystemExit("seed_ensemble: the two caches are not of the same tracks")
    order = np.argsort(a.tracks)
    models = {
        "seed A": [a.activations[i] for i in order],
        "seed B": [b.activations[i] for i in order],
        "mean": [(a.activations[i] + b.activations[i]) / 2 for i in order],
    }
    rows = {}
    for k, inst in enumerate(a.instruments):
        refs = [a.ref_times[i][a.ref_instruments[i] == k] for i in order]
        for name, acts in models.items():
            c = cross_validated([x[:, k] for x in acts], refs, a.fps, inst, cfg)
            rows.setdefault(inst, {})[name] = c.as_dict()
            print(f"{inst:12s} {name:7s} P {c.precision:6.1%} R {c.recall:6.1%} F {c.f_measure:6.1%} "
                  f"({c.tp}/{c.n_ref}, {c.n_est} found)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"caches": [str(p) for p in args.caches], "tracks": len(a.tracks),
                                    "instruments": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
