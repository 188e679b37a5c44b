"""Model speed on this machine: training frames/s and inference x real time per encoder.

A benchmark, not a test: ``python -m drumtx.bench_models --out bench.json``. Models come
from the same configs training uses (``conf/encoder/*``, ``conf/branches/*``, ``conf/loss``),
inputs are random log-mel crops of the training crop length, and a training step is the
real one (forward, masked loss, backward, gradient clipping, AdamW step).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from drumtx import CONF_DIR
from drumtx.atomic import write_json
from drumtx.cli import module_parser
from drumtx.models.transcriber import build_transcriber, count_parameters
from drumtx.targets import HIERARCHY


def model_config(encoder: str, branches: str, overrides: list[str] | None = None) -> dict:
    """The encoder/branches/loss/features/data sections of ``train.yaml`` with these options."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"encoder={encoder}", f"branches={branches}", *(overrides or [])])
    keep = ("encoder", "branches", "loss", "features", "optimizer")
    out = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in keep}
    out["data"] = {"targets": OmegaConf.to_container(cfg.data.targets, resolve=True)}
    return out


def random_batch(model, batch: int, frames: int, n_mels: int) -> dict:
    vocab = model.vocab
    roll = (torch.rand(batch, frames, len(vocab.fine_classes)) < 0.02).float()
    targets = {name: torch.randint(0, n, (batch, frames)) for name, (n, _) in HIERARCHY.items()}
    return {
        "mel": torch.randn(batch, n_mels, frames),
        "roll": roll,
        "targets": targets,
        "velocity": roll * torch.rand(roll.shape),  # velocity / 127 at the onsets (the velocity head's target)
        "mask": torch.ones(batch, frames, dtype=torch.bool),
    }


def _timed(fn, min_time: float, min_iters: int, warmup: int, device: str = "cpu") -> list[float]:
    """Seconds per call, every call timed on its own (at least ``min_iters``, ``min_time`` in all).

    Callers report the fastest call and the median: on a machine shared with other work,
    the fastest is the one least disturbed (timeit's reasoning), the median shows the spread.
    On a GPU each call ends with a synchronise, since kernels run asynchronously.
    """
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return times


def bench_one(
    encoder: str,
    branches: str = "five_branch",
    batch_size: int = 8,
    crop_seconds: float = 4.0,
    infer_seconds: float = 30.0,
    min_time: float = 10.0,
    device: str = "cpu",
    precision: str = "32",
) -> dict:
    """Training frames/s and inference x real time (model alone, and with the log-mel) for one encoder.

    ``precision="bf16-mixed"`` runs forward passes under bf16 autocast, as ``trainer=gpu`` does.
    """
    cfg = model_config(encoder, branches)
    torch.manual_seed(0)
    model = build_transcriber(cfg).to(device)
    loss_fn = instantiate(cfg["loss"], _partial_=True)(specs=model.heads.specs).to(device)
    opt = instantiate(cfg["optimizer"])(params=model.parameters())
    feats = cfg["features"]
    fps = feats["sample_rate"] / feats["hop_length"]
    n_mels = feats["n_mels"]

    frames = int(round(crop_seconds * fps))
    batch = {
        k: v.to(device) if torch.is_tensor(v) else v
        for k, v in random_batch(model, batch_size, frames, n_mels).items()
    }
    batch["targets"] = {k: v.to(device) for k, v in batch["targets"].items()}

    autocast = torch.autocast(
        device_type="cuda" if device.startswith("cuda") else "cpu",
        dtype=torch.bfloat16,
        enabled=precision == "bf16-mixed",
    )

    def train_step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss, _ = loss_fn(model(batch["mel"], batch["mask"]), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    model.train()
    t_train = _timed(train_step, min_time, 5, 1, device)

    model.eval()
    infer_frames = int(round(infer_seconds * fps))
    mel = torch.randn(1, n_mels, infer_frames, device=device)
    logmel = instantiate(feats).to(device)
    wave = torch.randn(1, int(infer_seconds * feats["sample_rate"]), device=device) * 0.1

    @torch.inference_mode()
    def infer():
        with autocast:
            model.fine_probs(model(mel))

    @torch.inference_mode()
    def infer_with_features():
        with autocast:
            model.fine_probs(model(logmel(wave)))

    t_inf = _timed(infer, min_time / 2, 3, 1, device)
    t_full = _timed(infer_with_features, min_time / 2, 3, 1, device)
    frames_per_step = batch_size * frames
    return {
        "encoder": encoder,
        "branches": branches,
        "precision": precision,
        "params": count_parameters(model),
        "params_encoder": count_parameters(model.encoder),
        "train_batch": [batch_size, frames],
        "train_steps": len(t_train),
        "train_frames_per_s": frames_per_step / min(t_train),
        "train_frames_per_s_median": frames_per_step / statistics.median(t_train),
        "infer_seconds": infer_seconds,
        "infer_x_realtime": infer_seconds / min(t_inf),
        "infer_x_realtime_median": infer_seconds / statistics.median(t_inf),
        "infer_x_realtime_with_features": infer_seconds / min(t_full),
        "load_average": os.getloadavg()[0],
    }


def benchmark(
    encoders=("crnn", "crnn_small"),
    branches: str = "five_branch",
    batch_size: int = 8,
    crop_seconds: float = 4.0,
    infer_seconds: float = 30.0,
    min_time: float = 10.0,
    threads: int | None = None,
    device: str = "cpu",
    precision: str = "32",
) -> dict:
    """Run :func:`bench_one` for every encoder; a JSON-able report with the machine described."""
    from drumtx.bench import cpu_model, load_average

    load_before = load_average()
    if threads:
        torch.set_num_threads(int(threads))
    rows = []
    for enc in encoders:
        rows.append(
            bench_one(enc, branches, batch_size, crop_seconds, infer_seconds, min_time, device, precision)
        )
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu": cpu_model(),
            "load_average_before": load_before,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": device if device == "cpu" else torch.cuda.get_device_name(),
            "precision": precision,
            "batch_size": batch_size,
        },
        "results": rows,
    }


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    m = report["machine"]
    table = Table(
        title=f"model speed, best call (median) ({m['device']}, {m['torch_threads']} threads, "
        f"batch {m.get('batch_size')}, precision {m.get('precision', '32')}, torch {m['torch']})"
    )
    cols = (
        "encoder",
        "branches",
        "params",
        "train frames/s (median)",
        "infer x RT (median)",
        "infer x RT +log-mel",
    )
    for col in cols:
        table.add_column(col, justify="right" if col not in ("encoder", "branches") else "left")
    for r in report["results"]:
        table.add_row(
            r["encoder"],
            r["branches"],
            f"{r['params']:,}",
            f"{r['train_frames_per_s']:,.0f} ({r['train_frames_per_s_median']:,.0f})",
            f"{r['infer_x_realtime']:.1f} ({r['infer_x_realtime_median']:.1f})",
            f"{r['infer_x_realtime_with_features']:.1f}",
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    ap = module_parser("drumtx.bench_models", __doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    ap.add_argument("--encoders", nargs="+", default=["crnn", "crnn_small"])
    ap.add_argument("--branches", default="five_branch")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop-seconds", type=float, default=4.0)
    ap.add_argument("--infer-seconds", type=float, default=30.0)
    ap.add_argument("--min-time", type=float, default=10.0, help="seconds of timing per measurement")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--precision", default="32", choices=["32", "bf16-mixed"], help="as the trainer's precision"
    )
    args = ap.parse_args(argv)
    report = benchmark(
        args.encoders,
        args.branches,
        args.batch_size,
        args.crop_seconds,
        args.infer_seconds,
        args.min_time,
        args.threads,
        args.device,
        args.precision,
    )
    print_table(report)
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    main()
