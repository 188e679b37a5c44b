"""Would one cymbal per strike lift the crash's precision? A diagnostic on a test slice: each
model's crash onsets at its tuned settings, as they are and with a crash dropped wherever a
hi-hat or ride onset (also at its tuned settings) lies within +-``window`` and is at least as sure
of itself (its peak over its own threshold, against the crash's peak over the crash's threshold,
times ``margin``). Prints the crash's and the other cymbals' precision / recall / F for each
(window, margin), to decide whether such a rule belongs in decoding; nothing here is tuned on the
slice it is read on unless you read it so (choose on validation, then read the test rungs).

    .venv/bin/python experiments/scripts/cymbal_arbitration.py outputs/default_model_v2/scratch_w4_s42 \
        --kit-names 'unseen:h2_*,unseen:sfz_*' --exclude-kit-names '*+music' [--split test] [--json OUT]

The model runs as transcribe runs it (drumtx.thresholds.run_model; one thread).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from threshold_ceiling import slice_probs  # noqa: E402  (the same kit slice, the same model pass)

OTHERS = ("hihat", "ride")
RULES = [(None, None)] + [(w, m) for w in (0.03, 0.05) for m in (0.5, 1.0, 2.0)]


def peaks(act: np.ndarray, s: dict, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Peak frames and their height over the threshold, at tuned settings ``s``."""
    from drumtx.decode import pick_peaks

    f = pick_peaks(act, s["threshold"], max(1, int(round(s["min_gap_s"] * fps))))
    return f, act[f] / s["threshold"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run folders holding best.safetensors (tuned)")
    ap.add_argument("--data", default="synth_songs")
    ap.add_argument("--split", default="test", choices=["test", "validation"])
    ap.add_argument("--kit-names", default=None)
    ap.add_argument("--exclude-kit-names", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from drumtx.metrics import OnsetCounts, onset_counts

    torch.set_num_threads(1)
    names = args.kit_names.split(",") if args.kit_names else None
    exclude = args.exclude_kit_names.split(",") if args.exclude_kit_names else None
    table = {}
    for run in args.runs:
        probs, tuned, vocab = slice_probs(run, args.data, args.split, names, exclude)
        k = {inst: probs.instruments.index(inst) for inst in ("crash", *OTHERS)}
        rows = {}
        for window, margin in RULES:
            counts = {inst: OnsetCounts() for inst in k}
            dropped_true = 0
            for act, ref_t, ref_i in zip(probs.activations, probs.ref_times, probs.ref_instruments, strict=True):
                found = {inst: peaks(act[:, j], tuned[inst], probs.fps) for inst, j in k.items()}
                cf, ch = found["crash"]
                keep = np.ones(len(cf), bool)
                if window is not None:
                    w = window * probs.fps
                    for inst in OTHERS:
                        of, oh = found[inst]
                        for n, (f, h) in enumerate(zip(cf, ch, strict=True)):
                            near = np.abs(of - f) <= w
                            if near.any() and oh[near].max() >= margin * h:
                                keep[n] = False
                crash_ref = ref_t[ref_i == k["crash"]]
                if (~keep).any():
                    before = onset_counts(crash_ref, cf / probs.fps).tp
                    dropped_true += before - onset_counts(crash_ref, cf[keep] / probs.fps).tp
                for inst, j in k.items():
                    f = cf[keep] if inst == "crash" else found[inst][0]
                    counts[inst] = counts[inst] + onset_counts(ref_t[ref_i == j], f / probs.fps)
            key = "as tuned" if window is None else f"drop within {window * 1000:.0f} ms, margin {margin:g}"
            rows[key] = {inst: {"precision": c.precision, "recall": c.recall, "f_measure": c.f_measure,
                                "n_est": c.n_est, "n_ref": c.n_ref} for inst, c in counts.items()}
            rows[key]["crash"]["true_dropped"] = dropped_true
            c = counts["crash"]
            print(f"{run.name:<22} {key:<34} crash P {c.precision:.3f} R {c.recall:.3f} F {c.f_measure:.3f} "
                  f"(n_est {c.n_est}, {dropped_true} true dropped)", flush=True)
        table[run.name] = {"n_tracks": len(probs.tracks), "rules": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"data": args.data, "split": args.split, "kit_names": names,
                                         "exclude_kit_names": exclude, "runs": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
