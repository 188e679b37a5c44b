"""The feature cache's per-track jobs: what one cached track holds, how it is computed and
written, and the process pool that runs the jobs (:func:`drumtx.data.cache.prepare_cache` plans
them and keeps the manifest).

A job (a dict made by :func:`drumtx.data.cache.plan_jobs`) names the audio and MIDI files, the
feature and target settings and the track's final directory. :func:`process_track` computes the
log-mel and frame targets and writes the :data:`ARRAYS` to a temporary directory that is renamed
into place (atomic), with the records the cache later checks the track against: the byte size and
SHA-1 of each array (:func:`~drumtx.data.datasets.file_sha1`) and the size and mtime of each source file
(:func:`source_identity`). :func:`run_jobs` runs the jobs in worker processes; a bad file becomes
a reason, and a worker that crashes costs only the file it was on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from drumtx.data.datasets import file_sha1
from drumtx.errors import exception_line
from drumtx.targets import (
    HIERARCHY,
    LabelCounts,
    Onset,
    TargetPolicy,
    hierarchical_targets,
    onset_roll,
    read_midi_onsets,
)

#: The arrays of a cached track, each ``tracks/<dir>/<name>.npy`` (see :mod:`drumtx.data.cache`).
ARRAYS = ("mel", "roll", "velocity", "targets")


def source_identity(path) -> dict | None:
    """What identifies a source file's content cheaply: byte size and mtime (ns); None if absent."""
    try:
        st = os.stat(path)
    except (OSError, TypeError):
        return None
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def target_names(policy: TargetPolicy) -> list[str]:
    """The hierarchical targets present for the policy's vocabulary, in HIERARCHY order."""
    return [n for n in HIERARCHY if n != "hihat_pedal" or policy.hihat_pedal]


# ---- the per-track work (runs in worker processes) -------------------------------------------
_FEATURES = {}


def _features(config: dict):
    from drumtx.features import LogMel

    key = json.dumps(config, sort_keys=True)
    if key not in _FEATURES:
        _FEATURES[key] = LogMel(**config)
    return _FEATURES[key]


def process_track(job: dict) -> dict:
    """Features and targets of one track (or variant), written atomically. Returns its meta."""
    from drumtx.audio import load_audio
    from drumtx.data.augment import render_audio_variant
    from drumtx.features import levelled_log_mel

    source = {"audio": source_identity(job["audio"]), "midi": source_identity(job["midi"])}  # before reading
    policy = TargetPolicy(**job["policy"])
    vocab = policy.vocab
    features = _features(job["features"])
    counts = LabelCounts()
    onsets = read_midi_onsets(job["midi"], job["note_map"], policy, counts)
    wave = load_audio(job["audio"], features.sample_rate)
    params = job.get("params")
    if params:
        wave = render_audio_variant(wave, features.sample_rate, params["semitones"], params["stretch"])
        onsets = [Onset(o.time * params["stretch"], o.fine_class, o.velocity) for o in onsets]
    # levelled in float32 before the float16 rounding below (drumtx.features.levelled_log_mel)
    mel, level_db, gain_db = levelled_log_mel(wave, features)
    if not np.isfinite(mel).all() or not np.isfinite(mel.astype(np.float16)).all():
        raise ValueError(f"{job['audio']}: non-finite log-mel (NaN or inf in the audio?)")
    n_frames = mel.shape[1]
    roll, velocity = onset_roll(onsets, n_frames, features.fps, vocab, counts)
    targets = hierarchical_targets(roll, vocab, policy, counts)
    names = target_names(policy)
    kept = [o for o in onsets if 0 <= round(o.time * features.fps) < n_frames]

    final = Path(job["final_dir"])
    tmp = Path(job["tmp_root"]) / f"{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "mel.npy", mel.astype(np.float16))
        np.save(tmp / "roll.npy", roll)
        np.save(tmp / "velocity.npy", velocity.astype(np.float16))
        np.save(tmp / "targets.npy", np.stack([targets[n] for n in names], axis=1).astype(np.uint8))
        (tmp / "onsets.json").write_text(json.dumps([[o.time, o.fine_class, o.velocity] for o in kept]))
        files = {n: {"bytes": (tmp / f"{n}.npy").stat().st_size, "sha1": file_sha1(tmp / f"{n}.npy")} for n in ARRAYS}
        meta = {
            "key": job["key"],
            "dir": final.name,
            "split": job["split"],
            "audio": str(job["audio"]),
            "midi": str(job["midi"]),
            "n_frames": int(n_frames),
            "duration": len(wave) / features.sample_rate,
            "fps": features.fps,
            "variant_of": job.get("variant_of"),
            "params": params,
            "fine_classes": vocab.fine_classes,
            "target_names": names,
            "counts": counts.to_dict(),
            "files": files,
            "source": source,
            "level_db": level_db,  # the track's level before levelling (dB re a full-scale 1 kHz sine)
            "gain_db": gain_db,  # what levelling added (dB)
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "meta.json").exists():  # not a concurrent twin that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _safe_process(job: dict) -> dict:
    """Never raises: a bad file becomes a reason, the run goes on."""
    try:
        return {"ok": True, "meta": process_track(job)}
    except MemoryError:
        reason = "out of memory"
    except Exception as exc:  # any decoder/parser failure is a per-file problem
        reason = exception_line(exc, reasons=(ValueError,))  # AudioError, MIDI errors: reasons
    # Reasons from drumtx.audio / read_midi_onsets name their file; name it for the rest.
    named = any(str(p) in reason for p in (job.get("audio"), job.get("midi")) if p)
    return {"ok": False, "reason": reason if named else f"{job.get('audio') or job.get('midi')}: {reason}"}


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # the pool is the parallelism; avoid oversubscribing cores


def default_mp_context() -> str:
    """``fork`` where safe (POSIX, CUDA not initialised): workers start at once, with torch
    already imported; ``spawn`` otherwise (a forked CUDA context is unusable)."""
    import sys

    import torch

    if sys.platform.startswith("linux") and not torch.cuda.is_initialized():
        return "fork"
    return "spawn"


def run_jobs(jobs: list[dict], num_workers: int, on_result: Callable[[dict, dict], None],
             mp_context: str | None = None) -> None:
    """Run jobs inline (``num_workers=0``) or in a process pool with bounded in-flight work.

    A worker that dies (a decoder segfault) breaks the pool. The jobs that were in flight
    are then re-run one at a time in a one-worker pool, so the file that kills its process is
    identified exactly and reported; every other job still runs.
    """
    if num_workers <= 0:
        for job in jobs:
            on_result(job, _safe_process(job))
        return
    ctx = multiprocessing.get_context(mp_context or default_mp_context())
    pending, suspects = deque(jobs), deque()
    while pending or suspects:
        isolate = bool(suspects)
        queue, limit = (suspects, 1) if isolate else (pending, 2 * num_workers)
        inflight: dict = {}
        try:
            with ProcessPoolExecutor(1 if isolate else num_workers, mp_context=ctx, initializer=_worker_init) as pool:
                while queue or inflight:
                    while queue and len(inflight) < limit:
                        job = queue.popleft()
                        inflight[pool.submit(_safe_process, job)] = job
                    done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                    for fut in done:
                        result = fut.result()  # BrokenProcessPool propagates
                        on_result(inflight.pop(fut), result)
        except BrokenProcessPool:
            for fut, job in inflight.items():
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    on_result(job, fut.result())
                elif isolate:  # it ran alone: it is the culprit
                    on_result(job, {"ok": False, "reason": f"{job.get('audio') or job.get('midi')}: "
                                                           "worker process crashed on this file"})
                else:
                    suspects.append(job)
