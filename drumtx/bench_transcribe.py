"""Transcription speed (x real time) and peak memory on a long synthetic file.

    python -m drumtx.bench_transcribe --minutes 10 --json OUT.json [--ckpt PATH] [--threads 1,2]

Each measured run happens in a fresh child process pinned to ``--threads`` CPU cores, so its
peak resident memory (``ru_maxrss``) is the transcription's alone: the synthetic file is
written here, in the parent, block by block. One run per thread count (default 1 and 2):
the bidirectional LSTM steps through time in small matrix products, for which a second
intra-op thread can cost more than it gains, badly so on a machine with other load. Without ``--ckpt`` the packaged default model is
used, or, while there is none, a randomly initialised model of the default architecture
(``conf/encoder/crnn_small.yaml`` + ``conf/branches/five_branch.yaml``): speed and memory
do not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from drumtx.cli import add_version

PROG = "drumtx.bench_transcribe"


def synth_drum_file(
    path: str | Path, minutes: float, sample_rate: int = 44100, channels: int = 2, seed: int = 0
) -> float:
    """Write a drum-like test file (decaying low sines and noise bursts on an 8th-note grid at
    ~110 bpm, with random accents) one second at a time, so any length costs no memory."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(round(minutes * 60 * sample_rate))
    step = 60.0 / 110 / 2
    hit_len = int(0.15 * sample_rate)
    env = np.exp(-np.arange(hit_len) / (0.03 * sample_rate)).astype(np.float32)
    tone = np.sin(2 * np.pi * 55 * np.arange(hit_len) / sample_rate).astype(np.float32)
    tail = np.zeros((0, channels), np.float32)
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=channels, subtype="PCM_16") as out:
        for start in range(0, total, sample_rate):
            n = min(sample_rate, total - start)
            block = np.zeros((n + hit_len, channels), np.float32)
            block[: len(tail)] += tail
            t0, t1 = start / sample_rate, (start + n) / sample_rate
            for k in range(int(np.ceil(t0 / step)), int(np.ceil(t1 / step))):
                i = int(round(k * step * sample_rate)) - start
                if not 0 <= i < n:
                    continue
                gain = rng.uniform(0.2, 0.6)
                hit = (
                    (tone if k % 4 == 0 else rng.standard_normal(hit_len).astype(np.float32) * 0.5)
                    * env
                    * gain
                )
                block[i : i + hit_len] += hit[:, None]
            out.write(np.clip(block[:n], -1, 1))
            tail = block[n:]
    return total / sample_rate


def default_bundle(folder: Path) -> Path:
    """The packaged model, or a random model of the default architecture saved as a bundle."""
    from drumtx.transcriber import DEFAULT_CKPT

    if DEFAULT_CKPT.is_file() and DEFAULT_CKPT.with_suffix(".json").is_file():
        return DEFAULT_CKPT
    import torch
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR
    from drumtx.checkpoint import build_meta, save_bundle
    from drumtx.models.transcriber import build_transcriber

    cfg = OmegaConf.create(
        {
            "features": OmegaConf.load(CONF_DIR / "features" / "logmel.yaml"),
            "encoder": OmegaConf.load(CONF_DIR / "encoder" / "crnn_small.yaml"),
            "branches": OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"),
            "data": {"targets": {"hihat_pedal": False}},
        }
    )
    torch.manual_seed(0)
    path = folder / "random_default.safetensors"
    save_bundle(path, build_transcriber(cfg), build_meta(cfg))
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _child(args) -> dict:
    """Runs in the measured process: load, transcribe, write MIDI; report time and memory."""
    if args.threads and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.threads]
        os.sched_setaffinity(0, cores)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from drumtx.outputs import MIDI_RESOLUTION, write_outputs
    from drumtx.transcriber import Transcriber

    t0 = time.perf_counter()
    transcriber = Transcriber.from_checkpoint(args.ckpt, device=args.device)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    t1 = time.perf_counter()
    result = transcriber.transcribe(Path(args.audio), progress=False)
    infer_s = time.perf_counter() - t1
    out = Path(args.out_dir)
    write_outputs(result, {"midi": out / "bench.mid"}, transcriber)
    total_s = time.perf_counter() - t1
    return {
        "audio_seconds": result.duration,
        "load_seconds": round(load_s, 3),
        "transcribe_seconds": round(infer_s, 3),
        "transcribe_and_write_seconds": round(total_s, 3),
        "x_realtime": round(result.duration / total_s, 2),
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_after_model_load_mb": round(rss_loaded, 1),
        "onsets": len(result.onsets),
        "tempo_bpm": round(result.tempo_map(MIDI_RESOLUTION).mean_bpm(), 2),
        "threads": torch.get_num_threads(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "device": args.device,
    }


def measure(
    audio: Path, ckpt: Path, threads: int = 2, device: str = "cpu", out_dir: Path | None = None
) -> dict:
    """Transcribe ``audio`` in a fresh child process; its timings and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", PROG, "--child", "--audio", str(audio), "--ckpt", str(ckpt)]
        cmd += ["--threads", str(threads), "--device", device, "--out-dir", str(out_dir or tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic file")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (atomically)")
    parser.add_argument(
        "--ckpt", type=Path, default=None, help="model (default: packaged, else random default arch)"
    )
    parser.add_argument(
        "--threads",
        default="1,2",
        help="comma-separated torch thread counts, one measured run each (pinned to that many cores); "
        "the top-level numbers are the fastest run's",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--sample-rate", type=int, default=44100, help="of the synthetic file (resampled inside)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    add_version(parser)
    args = parser.parse_args(argv)
    if args.child:
        args.threads = int(args.threads)
        print(json.dumps(_child(args)))
        return 0
    threads = [int(t) for t in str(args.threads).split(",") if t.strip()]

    with tempfile.TemporaryDirectory(prefix="drumtx-bench-") as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt or default_bundle(tmp)
        audio = tmp / "bench.wav"
        t0 = time.perf_counter()
        synth_drum_file(audio, args.minutes, args.sample_rate)
        synth_s = time.perf_counter() - t0
        print(
            f"{PROG}: {args.minutes:g} min synthetic file written in {synth_s:.1f} s; transcribing...",
            file=sys.stderr,
        )
        runs = [measure(audio, ckpt, n, args.device) for n in threads]
    result = dict(max(runs, key=lambda r: r["x_realtime"]))
    result["runs"] = runs
    result.update(
        {
            "minutes": args.minutes,
            "model": str(ckpt)
            if args.ckpt or "random_default" not in ckpt.name
            else "random crnn_small/five_branch",
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        }
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        from drumtx.atomic import atomic_output

        with atomic_output(args.json, suffix=".json") as out:
            out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
