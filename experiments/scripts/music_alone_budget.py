"""What the aim "music without drums gives fewer than 1 onset per 10 s" costs at the thresholds.

    .venv/bin/python experiments/scripts/music_alone_budget.py \
        outputs/default_model_v2/music_w4_s42/best.validation.probs.npz \
        outputs/default_model_v2/music_w4_s42/best.json -o experiments/default_model_v2/music_alone_budget

Reads a threshold tuning's probability cache (``drumtx.tune_thresholds``: each validation track's
activations (T, instruments) and reference onsets) and the run's tuned thresholds. Tracks named
``*_music_only.*`` (synth_songs' accompaniment without drums) give the false onsets per minute of
music alone; the others (drums, with and without music) give each instrument's onset F (micro
over tracks, 50 ms). For each instrument and threshold (at its tuned minimum gap) both are counted
with the decoder and matching of evaluation; then, for a range of prices lambda, each instrument
takes the threshold at or above its tuned one that maximises F - lambda * (its false onsets per minute of music alone): the
frontier of mean F against the total false onsets per minute, the tuned thresholds marked.
Writes ``budget.md``, ``budget.json`` and ``budget.png`` into the output folder.

The validation split only: it says what thresholds can do, not what the test split will show.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drumtx.decode import pick_peaks
from drumtx.metrics import onset_counts
from drumtx.thresholds import SplitProbs

GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)
AIM = 6.0  # fewer than 1 onset per 10 s


def counts(probs: Path, settings: dict) -> dict:
    """Per instrument and threshold of GRID: (tp, n_ref, n_est) over the drum tracks, and the
    estimates over the music-only tracks; the minutes of music alone."""
    cache = SplitProbs.load(probs, None)
    if cache is None:
        raise SystemExit(f"{probs}: missing or unreadable (run drumtx.tune_thresholds)")
    instruments, fps, tracks, acts = cache.instruments, cache.fps, cache.tracks, cache.activations
    refs = list(zip(cache.ref_times, cache.ref_instruments, strict=True))
    music = [Path(t).stem.endswith("_music_only") for t in tracks]
    minutes = sum(a.shape[0] for a, m in zip(acts, music, strict=True) if m) / fps / 60
    out = {"instruments": instruments, "music_minutes": minutes, "music_tracks": sum(music),
           "drum_tracks": len(tracks) - sum(music), "per_instrument": {}}
    for k, name in enumerate(instruments):
        gap = max(1, int(round(settings[name]["min_gap_s"] * fps)))
        tp = np.zeros(len(GRID), int)
        n_est = np.zeros(len(GRID), int)
        fp_music = np.zeros(len(GRID), int)
        n_ref = 0
        for act, (rt, ri), m in zip(acts, refs, music, strict=True):
            ref = rt[ri == k]
            n_ref += 0 if m else len(ref)
            for j, th in enumerate(GRID):
                frames = pick_peaks(act[:, k], float(th), gap)
                if m:
                    fp_music[j] += len(frames)
                else:
                    c = onset_counts(ref, frames / fps)
                    tp[j] += c.tp
                    n_est[j] += c.n_est
        f = np.where(n_ref + n_est > 0, 2 * tp / np.maximum(n_ref + n_est, 1), 0.0)
        out["per_instrument"][name] = {"min_gap_s": settings[name]["min_gap_s"], "tuned": settings[name]["threshold"],
                                       "n_ref": n_ref, "f": f.tolist(), "fp_per_min": (fp_music / minutes).tolist()}
    return out


def frontier(per: dict) -> list[dict]:
    """For each price lambda, every instrument's threshold at or above its tuned one (the crash's
    precision floor stays held) maximising F - lambda * FP/min."""
    points = []
    for lam in [0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]:
        pick = {}
        for name, d in per.items():
            score = np.asarray(d["f"]) - lam * np.asarray(d["fp_per_min"])
            score[GRID < d["tuned"] - 1e-9] = -np.inf
            j = int(np.argmax(score))
            pick[name] = {"threshold": float(GRID[j]), "f": d["f"][j], "fp_per_min": d["fp_per_min"][j]}
        points.append({"lambda": lam, "mean_f": float(np.mean([p["f"] for p in pick.values()])),
                       "fp_per_min": float(sum(p["fp_per_min"] for p in pick.values())), "thresholds": pick})
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("probs", type=Path, help="a tuning's probability cache (<ckpt>.validation.probs.npz)")
    ap.add_argument("bundle_json", type=Path, help="the run's best.json (its tuned thresholds)")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    settings = json.loads(args.bundle_json.read_text())["thresholds"]
    data = counts(args.probs, settings)
    per = data["per_instrument"]
    tuned = {n: int(np.argmin(np.abs(GRID - d["tuned"]))) for n, d in per.items()}
    data["tuned"] = {"mean_f": float(np.mean([per[n]["f"][j] for n, j in tuned.items()])),
                     "fp_per_min": float(sum(per[n]["fp_per_min"][j] for n, j in tuned.items())),
                     "per_instrument": {n: {"threshold": float(GRID[j]), "f": per[n]["f"][j],
                                            "fp_per_min": per[n]["fp_per_min"][j]} for n, j in tuned.items()}}
    data["frontier"] = frontier(per)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "budget.json").write_text(json.dumps(data, indent=1))

    names = list(per)
    lines = [f"# False onsets of music alone against onset F, by threshold ({args.probs})", "",
             f"Validation: {data['drum_tracks']} tracks with drums (F), {data['music_tracks']} of music alone "
             f"({data['music_minutes']:.1f} min; false onsets per minute). Aim: under {AIM:g} per minute.", "",
             "| Thresholds | mean F | music alone FP/min | " + " | ".join(f"{n} th / F / FP/min" for n in names) + " |",
             "| :--- | ---: | ---: | " + " | ".join("---:" for _ in names) + " |"]

    def row(label, p):
        cells = " | ".join(f"{p['per_instrument' if 'per_instrument' in p else 'thresholds'][n]['threshold']:.2f} / "
                           f"{p['per_instrument' if 'per_instrument' in p else 'thresholds'][n]['f']:.3f} / "
                           f"{p['per_instrument' if 'per_instrument' in p else 'thresholds'][n]['fp_per_min']:.1f}"
                           for n in names)
        return f"| {label} | {p['mean_f']:.3f} | {p['fp_per_min']:.1f} | {cells} |"

    lines.append(row("tuned (F)", data["tuned"]))
    for p in data["frontier"]:
        lines.append(row(f"λ = {p['lambda']:g}", p))
    (args.out / "budget.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["fp_per_min"] for p in data["frontier"]], [p["mean_f"] for p in data["frontier"]], "o-",
            label="best mean F at each price of a false onset")
    ax.plot([data["tuned"]["fp_per_min"]], [data["tuned"]["mean_f"]], "r*", ms=12, label="tuned thresholds")
    ax.axvline(AIM, color="grey", ls="--", label="aim: under 6 per minute")
    ax.set_xlabel("false onsets per minute of music alone (validation)")
    ax.set_ylabel("mean onset F over instruments (drum tracks)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "budget.png", dpi=120)
    print(f"wrote {args.out / 'budget.md'}")


if __name__ == "__main__":
    main()
