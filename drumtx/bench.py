"""``make bench``: every speed and memory benchmark of the project, recorded in experiments/.

    python -m drumtx.bench [--out experiments/bench] [--quick]

Runs, each in its own process so that timings and peak memory are its own:

* render throughput of ``data=synth_default`` (``drumtx.synth.bench``),
* the sample player's throughput on every sampled kit (``drumtx.synth.sampled.bench``),
* the songs recipe's mixing chain, ``data=synth_songs`` (``drumtx.synth.bench``): x real time
  per core of the whole track and of each stage (kit render, accompaniment, distractor,
  production chain), from CPU time as well as the wall clock,
* feature-cache preparation throughput of the whole ``data/synth_default`` into an empty cache
  (``drumtx.prepare``; rendered first if missing),
* training frames/s and inference x real time per encoder (``drumtx.bench_models``),
* ``python -m drumtx.transcribe`` on a 10-minute file, launch to exit: x real time, peak memory and
  CPU seconds per stage (imports, model load, decode, log-mel, network, onset envelope, peak
  picking, beat tracking, velocities, writing; ``drumtx.bench_transcribe``),

then writes ``<out>/<date>_<host>.json`` with the machine described, and prints a summary.
A benchmark, not a test: nothing here passes or fails on a number.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drumtx import PROJECT_ROOT
from drumtx.atomic import write_json
from drumtx.cli import module_parser


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name and family, e.g. ``"AMD EPYC (family 26, model 2)"``.

    Read from ``/proc/cpuinfo`` on Linux (its ``model name``, ``cpu family`` and ``model``: a VM
    may show a generic name such as "AMD EPYC", and the family tells Zen 4 from Zen 5); elsewhere
    ``platform.processor()`` or the architecture. Two runs of the same code on a 2-core VM moved
    from 102x to 57x real time when the VM's host changed CPU (experiments/bench/README.md), so
    every benchmark records it.
    """
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages at this moment (None where the OS has none):
    a benchmark taken beside other work is slower, and this says whether it was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine() -> dict:
    import torch

    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "load_average": load_average(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
    }


def git_commit() -> str | None:
    """The checkout's short commit hash, None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
        )
        return out.stdout.strip() or None
    except OSError:
        return None


def _run(name: str, cmd: list[str], json_path: Path) -> dict:
    print(f"== {name}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not json_path.exists():
        print(f"drumtx.bench: {name} failed (exit {proc.returncode}); continuing", file=sys.stderr)
        return {"command": " ".join(cmd), "error": f"exit {proc.returncode}", "wall_s": elapsed}
    result = json.loads(json_path.read_text())
    return {"command": " ".join(cmd), "wall_s": elapsed, "result": result}


def prepare_throughput(summary: dict, csv_path: Path) -> dict:
    """``drumtx.prepare``'s report of a from-scratch run, with its x real time: the audio seconds
    of the csv over the seconds the preparation took."""
    import csv

    with open(csv_path, newline="") as fh:
        audio_s = sum(float(row["duration"]) for row in csv.DictReader(fh))
    summary = {k: v for k, v in summary.items() if k != "label_counts_prepared"}
    summary["audio_hours"] = audio_s / 3600
    summary["x_realtime"] = audio_s / summary["seconds"] if summary["seconds"] else None
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = module_parser("drumtx.bench", __doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "experiments" / "bench")
    ap.add_argument("--quick", action="store_true", help="shorter timings and a 2-minute file (smoke run)")
    args = ap.parse_args(argv)
    py = sys.executable
    minutes = "2" if args.quick else "10"
    min_time = "3" if args.quick else "10"
    report: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "benchmarks": {}}
    with tempfile.TemporaryDirectory(prefix="drumtx-bench-") as tmp:
        tmp = Path(tmp)
        # name -> (command, the JSON it writes)
        jobs = {
            "render": (
                [py, "-m", "drumtx.synth.bench", "data=synth_default", f"bench.out={tmp / 'render.json'}"],
                tmp / "render.json",
            ),
            "sampler": (  # the sample player of the Hydrogen/SFZ kits alone (drumtx.synth.sampled)
                [py, "-m", "drumtx.synth.sampled.bench", "--out", str(tmp / "sampler.json")],
                tmp / "sampler.json",
            ),
            "songs": (  # kit render + accompaniment + production chain (drumtx.synth.production)
                [
                    py,
                    "-m",
                    "drumtx.synth.bench",
                    "data=synth_songs",
                    f"bench.tracks={10 if args.quick else 40}",
                    f"bench.out={tmp / 'songs.json'}",
                    f"hydra.run.dir={tmp / 'songs'}",
                ],
                tmp / "songs.json",
            ),
            "prepare": (
                [
                    py,
                    "-m",
                    "drumtx.prepare",
                    "data=synth_default",
                    f"paths.cache_dir={tmp / 'cache'}",
                    f"hydra.run.dir={tmp / 'prepare'}",
                    "progress=false",
                    "num_workers=2",
                ],
                tmp / "prepare" / "prepare_report.json",
            ),
            "models": (
                [py, "-m", "drumtx.bench_models", "--out", str(tmp / "models.json"), "--min-time", min_time],
                tmp / "models.json",
            ),
            "transcribe": (
                [
                    py,
                    "-m",
                    "drumtx.bench_transcribe",
                    "--minutes",
                    minutes,
                    "--json",
                    str(tmp / "transcribe.json"),
                ],
                tmp / "transcribe.json",
            ),
        }
        data_csv = PROJECT_ROOT / "data" / "synth_default" / "e-gmd-v1.0.0.csv"
        if not data_csv.exists():
            subprocess.run([py, "-m", "drumtx.synth", "data=synth_default"], cwd=PROJECT_ROOT, check=True)
        for name, (cmd, json_path) in jobs.items():
            report["benchmarks"][name] = _run(name, cmd, json_path)
    prepared = report["benchmarks"]["prepare"]
    if "result" in prepared:
        prepared["result"] = prepare_throughput(prepared["result"], data_csv)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    path = args.out / f"{stamp}_{platform.node() or 'host'}{'_quick' if args.quick else ''}.json"
    write_json(path, report)
    print(f"wrote {path}")
    return 0 if all("error" not in b for b in report["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
