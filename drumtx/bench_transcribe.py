"""Transcription speed (x real time), CPU time per stage and peak memory on a long synthetic file.

    python -m drumtx.bench_transcribe --minutes 10 --json OUT.json [--ckpt PATH] [--threads 1,2]

Each measured run is ``python -m drumtx.transcribe FILE -o DIR -q --threads N`` (MIDI out) in a
fresh child process pinned to ``N`` CPU cores, so its peak resident memory (``ru_maxrss``) is
the transcription's alone: the synthetic file is written here, in the parent, block by block.
``seconds`` / ``x_realtime`` are end to end, from the child's launch (interpreter start-up and
imports included) to the outputs written. ``stages`` splits the run into imports, model load,
decode, log-mel, network, onset envelope, peak picking, beat tracking, velocities and writing
(:data:`STAGES`), each with its CPU seconds (all threads; unlike wall time, barely stretched by
other load on the machine), share of the CPU total, wall seconds and the peak RSS reached by
its end. Records before this breakdown (``experiments/bench``) timed transcribe + write only,
without start-up, imports, model load and velocities.

One run per thread count (default 1 and 2): the bidirectional LSTM steps through time in small
matrix products, for which a second intra-op thread can cost more than it gains, badly so on a
machine with other load. Without ``--ckpt`` the packaged default model is
used, or, while there is none, a randomly initialised model of the default architecture
(``conf/encoder/crnn_small.yaml`` + ``conf/branches/five_branch.yaml``): speed and memory
do not depend on the weights (beyond the number of onsets found).
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

from drumtx.cli import module_parser

PROG = "drumtx.bench_transcribe"


def synth_drum_file(
    path: str | Path, minutes: float, sample_rate: int = 44100, channels: int = 2, seed: int = 0
) -> float:
    """Write a drum-like test file (decaying low sines and noise bursts on an 8th-note grid at
    ~110 bpm, with random accents) one second at a time, so any length costs no memory."""
    import numpy as np
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


#: The stages of one ``python -m drumtx.transcribe`` run, in order, and the functions whose
#: time (exclusive of the stages nested in them) each one is: see :class:`StageClock`.
STAGES = (
    "imports",  # interpreter start-up and every module import, lazy ones included
    "model_load",  # drumtx.checkpoint.load_transcriber
    "decode",  # drumtx.inference.file_mel less its log-mel: read, mono, resample, spool
    "mel",  # drumtx.features.LogMel.compute
    "network",  # Transcriber.run: blocks, the model, stitching, silence gate
    "onset_envelope",  # drumtx.transcriber.spooled_onset_envelope (the input of beat tracking)
    "peak_picking",  # drumtx.decode.decode_onsets + onset_confidences
    "beat_tracking",  # drumtx.tempo.track_beats
    "velocities",  # drumtx.transcriber.with_measured_velocities (reads the audio again)
    "writing",  # drumtx.outputs.write_outputs
    "other",  # the rest of drumtx.transcribe.main (options, inputs, ...)
)


class StageClock:
    """CPU seconds (``time.process_time``: all threads), wall seconds and the peak RSS reached,
    per stage of a run, each stage exclusive of the stages nested in it.

    A stage is entered by calling a function wrapped with :meth:`wrap`; time outside any
    wrapped function goes to ``outer``. Every module import (``_find_and_load`` of the import
    system, which ``import`` and ``importlib.import_module`` call for a module not yet loaded)
    counts as ``imports`` wherever it happens, so a library imported lazily inside a stage is
    charged to imports, not to that stage. Time before the clock was made (interpreter start-up
    and the imports so far) goes to ``first``; its wall time needs ``started``, the
    ``time.time()`` at which the process was launched.
    """

    def __init__(self, first: str = "imports", outer: str = "other", started: float | None = None):
        self.cpu: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.wall: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.rss_mb: dict[str, float] = {}
        self._stack = [outer]
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self.cpu[first] = self._cpu0
        self.wall[first] = max(0.0, time.time() - started) if started else 0.0
        self.rss_mb[first] = _rss_mb()

    def _charge(self) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        stage = self._stack[-1]
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self._cpu0
        self.wall[stage] = self.wall.get(stage, 0.0) + wall - self._wall0
        self._cpu0, self._wall0 = cpu, wall

    def wrap(self, fn, stage: str):
        """``fn``, its calls timed as ``stage``."""

        def timed(*args, **kwargs):
            self._charge()
            self._stack.append(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self._charge()
                self.rss_mb[stage] = max(self.rss_mb.get(stage, 0.0), _rss_mb())
                self._stack.pop()

        timed.__wrapped__ = fn
        return timed

    def patch(self, owner, name: str, stage: str) -> None:
        setattr(owner, name, self.wrap(getattr(owner, name), stage))

    def report(self) -> dict:
        """``{stage: {cpu_s, cpu_share, wall_s, peak_rss_mb}}`` in :data:`STAGES` order."""
        self._charge()
        total = sum(self.cpu.values()) or 1.0
        return {
            s: {
                "cpu_s": round(self.cpu[s], 3),
                "cpu_share": round(self.cpu[s] / total, 3),
                "wall_s": round(self.wall[s], 3),
                "peak_rss_mb": round(self.rss_mb[s], 1) if s in self.rss_mb else None,
            }
            for s in self.cpu
        }


def _child(args) -> dict:
    """Runs in the measured process: ``drumtx.transcribe.main`` on the file, as the command
    runs it, with every stage timed (:class:`StageClock`); the transcription's numbers."""
    clock = StageClock(started=args.started)
    bootstrap = sys.modules["_frozen_importlib"]  # what `import` calls for a module not yet loaded
    clock.patch(bootstrap, "_find_and_load", "imports")
    if args.threads and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    import drumtx.transcribe as command
    from drumtx import checkpoint, features, inference, transcriber
    from drumtx.outputs import MIDI_RESOLUTION

    clock.patch(checkpoint, "load_transcriber", "model_load")
    clock.patch(inference, "file_mel", "decode")
    clock.patch(transcriber, "file_mel", "decode")
    clock.patch(features.LogMel, "compute", "mel")
    clock.patch(transcriber.Transcriber, "run", "network")
    clock.patch(transcriber, "spooled_onset_envelope", "onset_envelope")
    clock.patch(transcriber, "decode_onsets", "peak_picking")
    clock.patch(transcriber, "onset_confidences", "peak_picking")
    clock.patch(transcriber, "track_beats", "beat_tracking")
    clock.patch(transcriber, "with_measured_velocities", "velocities")
    results = []
    write = command.write_outputs

    def write_and_keep(result, *a, **kw):
        results.append(result)
        return write(result, *a, **kw)

    command.write_outputs = clock.wrap(write_and_keep, "writing")
    argv = [str(args.audio), "-o", str(args.out_dir), "-q", "--overwrite", "--device", args.device]
    argv += ["--threads", str(args.threads)] if args.threads else []
    argv += ["--ckpt", str(args.ckpt)]
    if command.main(argv) != 0 or not results:
        raise RuntimeError("drumtx.transcribe failed")
    stages = clock.report()
    wall_s = time.time() - args.started
    result = results[0]
    cpu_s = sum(s["cpu_s"] for s in stages.values())
    import torch

    return {
        "audio_seconds": result.duration,
        "seconds_to_outputs": round(wall_s, 3),  # process launch to outputs written
        "cpu_seconds": round(cpu_s, 3),  # the stages' sum, launch to outputs written
        "x_realtime_per_cpu_second": round(result.duration / cpu_s, 2),
        "peak_rss_mb_to_outputs": round(_rss_mb(), 1),
        "stages": stages,
        "onsets": len(result.onsets),
        "tempo_bpm": round(result.tempo_map(MIDI_RESOLUTION).mean_bpm(), 2),
        "threads": torch.get_num_threads(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "device": args.device,
    }


def measure(
    audio: Path, ckpt: Path, threads: int = 2, device: str = "cpu", out_dir: Path | None = None
) -> dict:
    """``python -m drumtx.transcribe`` of ``audio`` (MIDI out) in a fresh child process, timed
    stage by stage (:class:`StageClock`).

    Returns:
        ``seconds`` and ``x_realtime`` end to end (launch to exit), ``process_cpu_seconds`` and
        ``peak_rss_mb`` of the whole process (``os.wait4``: all threads, exit included),
        ``cpu_seconds`` (the stages' sum, to outputs written), ``stages`` (per stage: ``cpu_s``,
        ``cpu_share``, ``wall_s``, ``peak_rss_mb`` reached by its end), ``onsets``,
        ``tempo_bpm``, ``threads``, ``cores``.

    Raises:
        RuntimeError: the child failed (the tail of its stderr).
    """
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", PROG, "--child", "--audio", str(audio), "--ckpt", str(ckpt)]
        cmd += ["--threads", str(threads), "--device", device, "--out-dir", str(out_dir or tmp)]
        cmd += ["--started", repr(time.time())]
        log = Path(tmp) / "child.out"
        t0 = time.perf_counter()
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            # os.wait4: the child's own CPU time and peak RSS, exit included
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        text = log.read_text()
        if code != 0:
            raise RuntimeError(f"benchmark child failed ({code}): {text.strip()[-2000:]}")
        run = json.loads(text.strip().splitlines()[-1])
    run["seconds"] = round(wall, 3)  # launch to exit, as a shell would time the command
    run["x_realtime"] = round(run["audio_seconds"] / wall, 2)
    run["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)  # the whole process, exit included
    run["process_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
    return run


def stage_table(run: dict) -> str:
    """A run's stages as text lines: CPU s, share, wall s, peak RSS by the stage's end."""
    lines = [f"{'stage':<16}{'cpu s':>8}{'share':>8}{'wall s':>8}{'rss MB':>9}"]
    for name, s in run["stages"].items():
        rss = f"{s['peak_rss_mb']:.0f}" if s["peak_rss_mb"] is not None else "-"
        lines.append(f"{name:<16}{s['cpu_s']:>8.2f}{s['cpu_share']:>8.1%}{s['wall_s']:>8.2f}{rss:>9}")
    lines.append(
        f"{'to outputs':<16}{run['cpu_seconds']:>8.2f}{'':>8}{run['seconds_to_outputs']:>8.2f}"
        f"{run['peak_rss_mb_to_outputs']:>9.0f}"
    )
    lines.append(
        f"{'process':<16}{run['process_cpu_seconds']:>8.2f}{'':>8}{run['seconds']:>8.2f}{run['peak_rss_mb']:>9.0f}"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = module_parser(PROG, __doc__.split("\n\n")[0])
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
    parser.add_argument("--started", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.threads = int(args.threads)
        print(json.dumps(_child(args)))
        from drumtx.transcribe import exit_now

        exit_now(0)  # as python -m drumtx.transcribe ends
    threads = [int(t) for t in str(args.threads).split(",") if t.strip()]

    from drumtx.bench import cpu_model, load_average

    load_before = load_average()
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
        runs = []
        for n in threads:
            runs.append(measure(audio, ckpt, n, args.device))
            print(f"{PROG}: {n} thread(s):\n{stage_table(runs[-1])}", file=sys.stderr)
    result = dict(max(runs, key=lambda r: r["x_realtime"]))
    result["runs"] = runs
    result.update(
        {
            "minutes": args.minutes,
            "model": str(ckpt)
            if args.ckpt or "random_default" not in ckpt.name
            else "random crnn_small/five_branch",
            "machine": platform.processor() or platform.machine(),
            "cpu": cpu_model(),
            "load_average_before": load_before,
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
