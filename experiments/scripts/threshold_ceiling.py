"""How far a model's thresholds are from the best its activations allow on a test slice: for each
instrument, the F-measure at the run's tuned settings (what transcribe and evaluate use) against
the best (threshold, min gap) that tune_thresholds' own search finds on the slice itself, and the
recall at a few precision floors along that search's curve. A diagnostic of transfer, never a way
to choose thresholds: settings fitted on a test slice say nothing about unseen audio. If the best
setting on the slice is far above the tuned one, the thresholds did not transfer (tune on audio
more like it); if it is not, the activations themselves are at fault (train otherwise).

    .venv/bin/python experiments/scripts/threshold_ceiling.py outputs/default_model_v2/long_w4_s42 \
        --kit-names 'unseen:h2_*,unseen:sfz_*' --exclude-kit-names '*+music' \
        [--instruments crash,ride] [--json OUT.json]

The model runs as transcribe runs it (drumtx.thresholds.run_model: levelling, blocks, the
model's presence gate) over synth_songs' test tracks of the kits asked for (one thread).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FLOORS = (0.5, 0.7, 0.85)


class _Slice:
    """A datamodule whose test split holds only the tracks of some kits (run_model filters only
    the validation split, by ``fit_kit_names``)."""

    def __init__(self, dm, names, exclude):
        from drumtx.data.datasets import kit_filter

        self._dm, self._keep = dm, lambda t: kit_filter(t.meta, names, exclude)
        self.fit_kit_names = None

    def __getattr__(self, name):
        return getattr(self._dm, name)

    def split_tracks(self, split):
        return [t for t in self._dm.split_tracks(split) if self._keep(t)]


def slice_probs(run: Path, data: str, split: str, names, exclude):
    """``run``'s model over the ``split`` tracks of data option ``data`` in the kits ``names`` less
    ``exclude``: (SplitProbs, the thresholds tuned into its sidecar, the model's vocabulary)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR
    from drumtx.checkpoint import load_transcriber
    from drumtx.inference import InferenceSettings
    from drumtx.thresholds import run_model
    from drumtx.vocab import Vocabulary

    model, meta = load_transcriber(run / "best.safetensors")
    tuned = json.loads((run / "best.json").read_text())["thresholds"]
    vocab = Vocabulary(hihat_pedal=bool(meta.get("vocab", {}).get("hihat_pedal", False)))
    settings = InferenceSettings.from_config().for_model(meta)
    with initialize_config_dir(str(CONF_DIR), version_base=None):
        cfg = compose("tune_thresholds", overrides=[f"data={data}"])
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    data_cfg["targets"] = (meta.get("config") or {}).get("data", {}).get("targets", data_cfg.get("targets"))
    dm = instantiate(data_cfg, features=meta["features"], augmentation=cfg.augmentation,
                     _recursive_=False, _convert_="none")
    return run_model(model, settings, _Slice(dm, names, exclude), split, vocab), tuned, vocab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run folders holding best.safetensors (tuned)")
    ap.add_argument("--data", default="synth_songs", help="data option whose test split is sliced")
    ap.add_argument("--kit-names", default=None, help="kits to keep, comma-separated, e.g. 'unseen:h2_*,unseen:sfz_*'")
    ap.add_argument("--exclude-kit-names", default=None, help="kits to leave out, comma-separated, e.g. '*+music'")
    ap.add_argument("--instruments", default=None, help="comma-separated (default: every instrument)")
    ap.add_argument("--json", type=Path, default=None, help="write the table here")
    args = ap.parse_args()

    import optuna
    import torch

    from drumtx.thresholds import instrument_counts, tune_instrument

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = args.kit_names.split(",") if args.kit_names else None
    exclude = args.exclude_kit_names.split(",") if args.exclude_kit_names else None
    table = {}
    for run in args.runs:
        probs, tuned, vocab = slice_probs(run, args.data, "test", names, exclude)
        rows = {}
        for inst in args.instruments.split(",") if args.instruments else probs.instruments:
            acts, refs = probs.for_instrument(inst)
            at_tuned = instrument_counts(acts, refs, probs.fps, inst, tuned[inst], vocab=vocab)
            best = tune_instrument(acts, refs, probs.fps, instrument=inst, vocab=vocab, start=tuned[inst])
            p, r = np.array(best.curve["precision"]), np.array(best.curve["recall"])
            rows[inst] = {
                "n_ref": best.n_ref,
                "tuned": {**tuned[inst], "precision": at_tuned.precision, "recall": at_tuned.recall,
                          "f_measure": at_tuned.f_measure, "n_est": at_tuned.n_est},
                "best_on_slice": {**best.settings, "precision": best.precision, "recall": best.recall,
                                  "f_measure": best.f_measure, "n_est": best.n_est},
                "recall_at_precision": {str(f): float(r[p >= f].max()) if (p >= f).any() else 0.0 for f in FLOORS},
            }
            print(f"{run.name:<16} {inst:<8} tuned {tuned[inst]['threshold']:.2f}: P {at_tuned.precision:.3f} "
                  f"R {at_tuned.recall:.3f} F {at_tuned.f_measure:.3f} | best on slice {best.threshold:.2f}: "
                  f"P {best.precision:.3f} R {best.recall:.3f} F {best.f_measure:.3f} | R at P>="
                  + " ".join(f"{f}: {v:.2f}" for f, v in rows[inst]["recall_at_precision"].items()), flush=True)
        table[run.name] = {"n_tracks": len(probs.tracks), "instruments": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"data": args.data, "split": "test", "kit_names": names,
                                         "exclude_kit_names": exclude, "runs": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
