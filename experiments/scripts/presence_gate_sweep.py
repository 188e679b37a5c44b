"""The drum presence gate on a threshold tuning's validation activations: what each confidence and
reach costs in onset F on drum tracks and saves in false onsets on music alone.

    .venv/bin/python experiments/scripts/presence_gate_sweep.py outputs/default_model_v2/music_w4_s42 \
        [--seconds 2,3,4] [--confidence 0.7,0.75,0.8] [--json OUT.json]

Reads RUN/best.validation.probs.npz (``drumtx.tune_thresholds``' probability cache: each realistic
validation track's activations (T, instruments), recorded without a presence gate, and its
reference onsets) and the run's tuned thresholds (RUN/best.json). Tracks named ``*_music_only.*``
(synth_songs' accompaniment without drums) give the false onsets per minute of music alone; the
others (drums with and without music) each instrument's onset F (micro over tracks, 50 ms), mean
over instruments: over all of them, over the drums alone and over the drums with music
(``*_music.*``). Each (confidence, reach) zeroes the activations outside
:func:`drumtx.inference.drum_present` (kick, snare, hi-hat, ride as evidence), as inference does,
then picks peaks at the tuned thresholds. The first row is no gate. Validation tracks only: it
says what the gate can do, the test rungs say what it does (make default-model-v2-presence).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drumtx.decode import pick_peaks
from drumtx.inference import InferenceSettings, drum_present
from drumtx.metrics import onset_counts
from drumtx.thresholds import SplitProbs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder with best.json and best.validation.probs.npz")
    ap.add_argument("--seconds", default="2,3,4", help="reaches to try (s, comma-separated)")
    ap.add_argument("--confidence", default="0.7,0.75,0.8", help="confidences to try (comma-separated)")
    ap.add_argument("--json", type=Path, default=None, help="write every row here")
    args = ap.parse_args()
    thresholds = json.loads((args.run / "best.json").read_text())["thresholds"]
    cache = SplitProbs.load(args.run / "best.validation.probs.npz", None)
    if cache is None:
        raise SystemExit(f"{args.run}/best.validation.probs.npz: missing or unreadable (run drumtx.tune_thresholds)")
    instruments, fps, tracks, acts = cache.instruments, cache.fps, cache.tracks, cache.activations
    refs = list(zip(cache.ref_times, cache.ref_instruments, strict=True))
    music = [Path(t).stem.endswith("_music_only") for t in tracks]
    minutes = sum(a.shape[0] for a, m in zip(acts, music, strict=True) if m) / fps / 60
    base = InferenceSettings.from_config(presence_confidence=0.0)

    mix = [Path(t).stem.endswith("_music") for t in tracks]  # drums with accompaniment

    def score(settings: InferenceSettings | None) -> dict:
        return {**_score(settings, None), "mixes": _score(settings, True)["mean_f"],
                "drums_alone": _score(settings, False)["mean_f"]}

    def _score(settings: InferenceSettings | None, mixes: bool | None) -> dict:
        tp, n_ref, n_est = (np.zeros(len(instruments)) for _ in range(3))
        false_music = 0
        for act, (rt, ri), m, x in zip(acts, refs, music, mix, strict=True):
            if mixes is not None and not m and x != mixes:
                continue
            if settings is not None:
                keep = drum_present({n: act[:, k] for k, n in enumerate(instruments)}, settings, fps)
                act = act if keep is None else np.where(keep[:, None], act, 0.0)
            for k, name in enumerate(instruments):
                gap = max(1, int(round(thresholds[name]["min_gap_s"] * fps)))
                frames = pick_peaks(act[:, k], thresholds[name]["threshold"], gap)
                if m:
                    false_music += len(frames)
                    continue
                c = onset_counts(rt[ri == k], frames / fps)
                tp[k] += c.tp
                n_ref[k] += c.n_ref
                n_est[k] += c.n_est
        f = np.where(n_ref + n_est > 0, 2 * tp / np.maximum(n_ref + n_est, 1), 0.0)
        return {"mean_f": float(f.mean()), "f": dict(zip(instruments, f.round(4).tolist(), strict=True)),
                "music_alone_per_min": false_music / minutes}

    rows = [{"confidence": 0.0, "seconds": None, **score(None)}]
    for s in (float(x) for x in args.seconds.split(",")):
        for c in (float(x) for x in args.confidence.split(",")):
            rows.append({"confidence": c, "seconds": s,
                         **score(InferenceSettings.from_config(presence_confidence=c, presence_seconds=s))})
    print(f"{args.run}: {sum(music)} music-only tracks ({minutes:.1f} min), {len(tracks) - sum(music)} drum tracks")
    print("| gate | mean onset F, drum tracks | change | drums alone | drums with music | music alone, onsets / min |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        gate = "none" if not r["confidence"] else f"{r['confidence']:g} within {r['seconds']:g} s"
        print(f"| {gate} | {r['mean_f']:.3f} | {r['mean_f'] - rows[0]['mean_f']:+.3f} | {r['drums_alone']:.3f} | "
              f"{r['mixes']:.3f} | {r['music_alone_per_min']:.1f} |")
    if args.json:
        from drumtx.atomic import write_json

        write_json(args.json, {"run": str(args.run), "music_minutes": minutes, "rows": rows,
                               "unused": base.presence_instruments})


if __name__ == "__main__":
    main()
