"""Average the weights of one run's checkpoints into a bundle (a "uniform soup", Wortsman et al.
2022; what Lightning's StochasticWeightAveraging does during training, here after it).

    python experiments/scripts/checkpoint_soup.py outputs/default_model_v2/hardneg_w4_s43 \\
        -o outputs/default_model_v2/soup_hardneg_w4_s43/best.safetensors

Averages every ``checkpoints/*.ckpt`` of RUN (its top-k by validation PR-AUC and ``last.ckpt``;
they must come from one training, i.e. one trajectory: averaging two seeds' weights gives a
broken model). Floating-point tensors, BatchNorm's running statistics included, are averaged;
integer ones (``num_batches_tracked``) taken from the first. The meta (config, thresholds) is
RUN's ``best.json``; tune the thresholds again for the averaged weights.

The checkpoints load as drumtx's own Lightning files (``torch.load(weights_only=True)``, via
:func:`drumtx.checkpoint.load_transcriber`), never as arbitrary pickles.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from drumtx.checkpoint import CheckpointError, load_transcriber, save_bundle


def soup(ckpts: list[Path]) -> torch.nn.Module:
    """The first checkpoint's model with every floating-point tensor replaced by the mean over
    ``ckpts`` (all of one config; the first's model is returned, weights averaged in place)."""
    base, _ = load_transcriber(ckpts[0])
    total = {k: v.detach().double().clone() for k, v in base.state_dict().items() if v.is_floating_point()}
    for path in ckpts[1:]:
        model, _ = load_transcriber(path)
        for k, v in model.state_dict().items():
            if k in total:
                total[k] += v.detach().double()
    state = base.state_dict()
    for k, v in total.items():
        state[k].copy_((v / len(ckpts)).to(state[k].dtype))
    return base


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run folder with checkpoints/*.ckpt and best.json")
    ap.add_argument("-o", "--out", type=Path, required=True, help="the bundle to write (.safetensors)")
    args = ap.parse_args(argv)
    ckpts = sorted((args.run / "checkpoints").glob("*.ckpt"))
    if len(ckpts) < 2:
        sys.exit(f"checkpoint_soup: {args.run}/checkpoints holds {len(ckpts)} .ckpt file(s); need 2 or more")
    try:
        meta = json.loads((args.run / "best.json").read_text())
        model = soup(ckpts)
    except (OSError, json.JSONDecodeError, CheckpointError) as exc:
        sys.exit(f"checkpoint_soup: {exc}")
    meta["soup"] = {"checkpoints": [str(p) for p in ckpts]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(args.out, model, meta)
    print(f"{args.out}: mean of {len(ckpts)} checkpoints ({', '.join(p.name for p in ckpts)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
