"""Where to read an onset's variation (snare head/rim, tom floor/mid/high, hi-hat closed/open, ride
body/bell): the variation head's argmax at the peak frame (what drumtx.decode does) against its
probabilities averaged over frames around the peak.

    .venv/bin/python experiments/scripts/variation_readout.py outputs/default_model_v2/music_w4_s42 \
        [--split validation] [--max-tracks N] [--json OUT.json]

Runs RUN/best.safetensors over the realistic validation tracks its thresholds were tuned on
(``data=synth_songs``, ``fit_kit_names=[h2_*,sfz_*,none+music]``), as transcribe runs it
(:func:`drumtx.inference.activations`, the model's own presence gate), picks peaks at the run's
tuned thresholds (RUN/best.json), matches each instrument's onsets to the references (±50 ms,
:func:`drumtx.metrics.match_onsets`) and counts, per readout, how many matched onsets get the
reference's variation. Readouts: ``peak`` (the peak frame alone), ``mean±k`` (the variation
probabilities averaged over frames peak-k..peak+k, each weighted by the instrument's activation
there) and ``after+k`` (peak..peak+k, weighted likewise). The variation head is trained on the
frames where its parent's target is on (``drumtx.models.losses``), so frames next to the peak hold
the same decision. Validation only: the test rungs say what a chosen readout does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def readouts(max_k: int) -> dict[str, tuple[int, int]]:
    """readout name -> (frames before the peak, frames after)."""
    out = {"peak": (0, 0)}
    for k in range(1, max_k + 1):
        out[f"mean±{k}"] = (k, k)
        out[f"after+{k}"] = (0, k)
    return out


def read_variation(activation: np.ndarray, variation: np.ndarray, frame: int, before: int, after: int) -> int:
    """Argmax of ``variation`` (T, V) averaged over frames ``frame-before..frame+after`` (clipped),
    weighted by ``activation`` (T,) there."""
    lo, hi = max(0, frame - before), min(len(activation), frame + after + 1)
    w = activation[lo:hi, None].astype(np.float64) + 1e-9
    return int(np.argmax((variation[lo:hi] * w).sum(axis=0)))


#: The toms from low to high: the order an onset's expected pitch is read on.
TOM_ORDER = ("tom_floor", "tom_mid", "tom_high")


def within_track_order(track: np.ndarray, truth: np.ndarray, score: np.ndarray) -> float:
    """How often a pair of matched tom onsets of one track with different reference toms is ordered
    by ``score`` as by pitch (ties count half): the area under the ROC curve, within tracks only.

    ``truth`` indexes :data:`TOM_ORDER`; ``score`` is the model's expected position on it (0..2)."""
    good = total = 0.0
    for t in np.unique(track):
        for lo in range(3):
            for hi in range(lo + 1, 3):
                x, y = score[(track == t) & (truth == lo)], score[(track == t) & (truth == hi)]
                good += (x[:, None] < y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum()
                total += x.size * y.size
    return good / max(total, 1.0)


def track_order_labels(score: np.ndarray, probs: np.ndarray, k: int = 3) -> np.ndarray:
    """One track's tom onsets relabelled by their order: ``score`` (n,) split into ``min(k, n)``
    runs by 1-D k-means (exact: every split of the sorted scores), the runs given distinct toms in
    pitch order, the order-respecting choice the model's ``probs`` (n, 3, :data:`TOM_ORDER`) like best."""
    from itertools import combinations

    n = score.size
    k = min(k, n)
    order = np.argsort(score, kind="stable")
    xs = score[order]
    c1, c2 = np.concatenate(([0.0], np.cumsum(xs))), np.concatenate(([0.0], np.cumsum(xs**2)))

    def sse(a, b):
        return c2[b] - c2[a] - (c1[b] - c1[a]) ** 2 / np.maximum(b - a, 1)

    best, bounds = np.inf, (0, n)
    for cuts in combinations(range(1, n), k - 1):
        b = (0, *cuts, n)
        v = sum(sse(b[i], b[i + 1]) for i in range(k))
        if v < best:
            best, bounds = v, b
    runs = [order[bounds[i]:bounds[i + 1]] for i in range(k)]
    logp = np.log(probs + 1e-6)
    labels = max(combinations(range(3), k), key=lambda c: sum(logp[r, lab].sum() for r, lab in zip(runs, c, strict=True)))
    out = np.empty(n, dtype=int)
    for r, lab in zip(runs, labels, strict=True):
        out[r] = lab
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder with best.safetensors and best.json (tuned thresholds)")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--max-k", type=int, default=3, help="widest window tried (frames on a side)")
    ap.add_argument("--max-tracks", type=int, default=None, help="first N tracks only (a quick look)")
    ap.add_argument("--kit-names", default=None, help="kit filter, comma-separated (default: the tuning kits on "
                    "validation, every kit on test), e.g. 'unseen:timgm6mb_*,unseen:avl_*' for rung (a)")
    ap.add_argument("--exclude-kit-names", default=None, help="kits to leave out, comma-separated, e.g. '*+music'")
    ap.add_argument("--json", type=Path, default=None, help="write the counts here")
    args = ap.parse_args()

    import torch
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from tqdm import tqdm

    from drumtx import CONF_DIR
    from drumtx.checkpoint import load_transcriber
    from drumtx.data.datasets import kit_filter
    from drumtx.decode import pick_peaks
    from drumtx.inference import InferenceSettings, activations
    from drumtx.metrics import match_onsets
    from drumtx.vocab import Vocabulary

    torch.set_num_threads(1)
    ckpt = args.run / "best.safetensors"
    model, meta = load_transcriber(ckpt)
    model.eval()
    thresholds = json.loads((args.run / "best.json").read_text())["thresholds"]
    vocab = Vocabulary(hihat_pedal=bool(meta.get("vocab", {}).get("hihat_pedal", False)))
    settings = InferenceSettings.from_config().for_model(meta)
    with initialize_config_dir(str(CONF_DIR), version_base=None):
        cfg = compose("tune_thresholds", overrides=["data=synth_songs", "data.fit_kit_names=[h2_*,sfz_*,none+music]"])
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    data_cfg["targets"] = (meta.get("config") or {}).get("data", {}).get("targets", data_cfg.get("targets"))
    dm = instantiate(data_cfg, features=meta["features"], augmentation=cfg.augmentation, _recursive_=False, _convert_="none")
    tracks = dm.split_tracks(args.split)
    names = args.kit_names.split(",") if args.kit_names else (dm.fit_kit_names if args.split == "validation" else None)
    exclude = args.exclude_kit_names.split(",") if args.exclude_kit_names else None
    tracks = [t for t in tracks if kit_filter(t.meta, names, exclude)]
    manifest = dm.cache.manifest()
    keys = sorted(t.key for t in tracks if t.key in manifest)[: args.max_tracks]
    ways = readouts(args.max_k)
    varied = {i: f for i, f in vocab.instruments.items() if len(f) > 1}
    # counts[instrument][readout] = correct; n[instrument] = matched onsets
    correct = {i: dict.fromkeys(ways, 0) for i in varied}
    n = dict.fromkeys(varied, 0)
    confusion = {i: {w: np.zeros((len(f), len(f)), dtype=int) for w in ("peak", f"mean±{args.max_k}")} for i, f in varied.items()}
    toms: list[tuple[int, int, np.ndarray]] = []  # (track, reference tom or -1, probs in TOM_ORDER)
    for ti, key in enumerate(tqdm(keys, desc=f"model over {args.split}", unit="track")):
        cached = dm.cache.load(key)
        probs = activations(model, dm.features, cached.mel, settings, fine=False).probs
        fps = dm.features.fps
        refs = cached.onsets()
        for inst, fine in varied.items():
            act, var = probs[inst]
            gap = max(1, int(round(thresholds[inst]["min_gap_s"] * fps)))
            frames = pick_peaks(act, thresholds[inst]["threshold"], gap)
            ref = [o for o in refs if o.fine_class in fine]
            pairs = match_onsets(np.array([o.time for o in ref]), frames / fps)
            if inst == "tom":
                matched = {e: TOM_ORDER.index(ref[r].fine_class) for r, e in pairs}
                cols = [fine.index(c) for c in TOM_ORDER]
                toms += [(ti, matched.get(e, -1), var[f][cols]) for e, f in enumerate(frames)]
            for r, e in pairs:
                truth = fine.index(ref[r].fine_class)
                n[inst] += 1
                for w, (b, a) in ways.items():
                    got = read_variation(act, var, int(frames[e]), b, a)
                    correct[inst][w] += got == truth
                    if w in confusion[inst]:
                        confusion[inst][w][truth, got] += 1
    rows = {i: {w: correct[i][w] / max(1, n[i]) for w in ways} for i in varied}
    print(f"{len(keys)} tracks of {args.split}; variation accuracy on matched onsets")
    print(f"{'readout':<10}" + "".join(f"{i:>10}" for i in varied) + f"{'mean':>10}")
    for w in ways:
        accs = [rows[i][w] for i in varied]
        print(f"{w:<10}" + "".join(f"{a:>10.4f}" for a in accs) + f"{np.mean(accs):>10.4f}")
    print("matched   " + "".join(f"{n[i]:>10d}" for i in varied))
    tom_order = {}
    if toms:
        track = np.array([t[0] for t in toms])
        truth = np.array([t[1] for t in toms])
        probs = np.stack([t[2] for t in toms])
        score = probs @ np.arange(3.0)
        m = truth >= 0
        relabelled = np.empty_like(truth)
        for t in np.unique(track):
            on = track == t
            relabelled[on] = track_order_labels(score[on], probs[on])
        tom_order = {
            "within_track_auc": within_track_order(track[m], truth[m], score[m]),
            "peak_accuracy": float((probs[m].argmax(1) == truth[m]).mean()),
            "track_order_accuracy": float((relabelled[m] == truth[m]).mean()),
            "tracks_by_toms_used": np.bincount(
                [len(np.unique(truth[m & (track == t)])) for t in np.unique(track[m])], minlength=4).tolist(),
        }
        print("toms: within-track order AUC {within_track_auc:.3f}; accuracy at the peak {peak_accuracy:.3f}, "
              "relabelled by the track's order {track_order_accuracy:.3f}; tracks using 0/1/2/3 toms "
              "{tracks_by_toms_used}".format(**tom_order))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "run": str(args.run), "split": args.split, "n_tracks": len(keys), "matched": n,
            "accuracy": rows, "correct": correct,
            "confusion": {i: {w: m.tolist() for w, m in c.items()} for i, c in confusion.items()},
            "classes": varied, "inference": settings.to_dict(), "toms": tom_order,
            "kit_names": names, "exclude_kit_names": exclude,
        }, indent=1))


if __name__ == "__main__":
    main()
