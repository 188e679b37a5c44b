"""Label statistics of a dataset, and the ledger proving that no label is lost.

    python -m drumtx.data.stats data=egmd data.root=/path/to/e-gmd-v1.0.0 [data.max_tracks=200]
    python -m drumtx.data.stats data=gmd        # MIDI only: no audio or cache needed

Per split: tracks, hours, events per fine class, ignored notes (by MIDI pitch), notes dropped
by the policy, merged flams, collisions by kind and the labels they cost. Every track is
checked against a ledger; each line must balance, or the run exits 1::

    MIDI notes       = ignored + dropped (policy, non-drum tracks) + onsets read
    onsets read      = roll onsets + merged (same class, same frame) + outside the audio
    roll onsets      = sum of the multi-hot roll            (independent count)
    roll onsets      = onsets decoded back from the hierarchical targets + lost to collisions

The report is printed and written to ``<hydra output dir>/label_stats.json``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

import drumtx  # noqa: F401  (registers the drumtx_path resolver)
from drumtx.cli import EXIT_USAGE, fail, hydra_main
from drumtx.config_schema import STATS
from drumtx.targets import (
    LabelCounts,
    TargetPolicy,
    hierarchical_targets,
    load_midi,
    midi_drum_notes,
    n_frames_for,
    notes_to_onsets,
    onset_roll,
    targets_to_onsets,
)

log = logging.getLogger("drumtx.data.stats")
POLICY_DROPS = ("cross_stick", "hihat_pedal", "non_drum_track")


def track_stats(job: dict) -> dict:
    """Label accounting of one track (pure function of the MIDI, duration and policy)."""
    from drumtx.audio import AudioError, audio_duration

    try:
        midi = load_midi(job["midi"])
    except ValueError as exc:
        return {"key": job["key"], "split": job["split"], "error": str(exc)}
    duration, source = job.get("duration"), "csv"
    if job.get("audio") and Path(job["audio"]).is_file():
        try:
            duration, source = audio_duration(job["audio"]), "audio"
        except AudioError as exc:
            return {"key": job["key"], "split": job["split"], "error": str(exc)}
    if not duration:
        duration, source = midi.get_end_time(), "midi"
    policy = TargetPolicy(**job["policy"])
    vocab = policy.vocab
    counts = LabelCounts()
    n_midi = sum(len(inst.notes) for inst in midi.instruments)
    onsets = notes_to_onsets(midi_drum_notes(midi, counts), job["note_map"], policy, counts)
    n_frames = n_frames_for(duration, job["fps"])
    roll, _ = onset_roll(onsets, n_frames, job["fps"], vocab, counts)
    targets = hierarchical_targets(roll, vocab, policy, counts)
    decoded = targets_to_onsets(targets, job["fps"], vocab)
    ledger = {
        "midi_notes": n_midi,
        "ignored": sum(counts.ignored_notes.values()),
        "dropped_policy": sum(v for k, v in counts.dropped.items() if k in POLICY_DROPS),
        "onsets_read": len(onsets),
        "merged": sum(counts.merged.values()),
        "outside_audio": counts.dropped.get("outside_audio", 0),
        "roll_onsets": int(roll.sum()),
        "counted_onsets": sum(counts.onsets.values()),
        "target_onsets": len(decoded),
        "collisions_dropped": sum(counts.collisions_dropped.values()),
    }
    return {"key": job["key"], "split": job["split"], "duration": duration, "duration_from": source,
            "counts": counts.to_dict(), "ledger": ledger, "errors": ledger_errors(ledger)}


def ledger_errors(L: dict) -> list[str]:
    """The ledger lines that do not balance (empty when every label is accounted for)."""
    checks = {
        "midi notes = ignored + dropped + read": L["midi_notes"] == L["ignored"] + L["dropped_policy"] + L["onsets_read"],
        "read = roll + merged + outside": L["onsets_read"] == L["counted_onsets"] + L["merged"] + L["outside_audio"],
        "roll sum = counted roll onsets": L["roll_onsets"] == L["counted_onsets"],
        "roll = targets + collision losses": L["roll_onsets"] == L["target_onsets"] + L["collisions_dropped"],
    }
    return [name for name, ok in checks.items() if not ok]


def collect(cfg: DictConfig, progress: bool = True) -> dict:
    """Run :func:`track_stats` over the configured splits and aggregate per split."""
    from hydra.utils import instantiate
    from tqdm.auto import tqdm

    from drumtx.data.datasets import build_index

    index = build_index(cfg.data)
    features = instantiate(cfg.features)
    policy = OmegaConf.to_container(cfg.data.targets, resolve=True)
    splits = list(cfg.get("splits") or ("train", "validation", "test"))
    jobs = [
        {"key": t.key, "split": split, "midi": str(t.midi), "audio": str(t.audio) if t.audio else None,
         "duration": t.duration, "policy": policy, "note_map": cfg.data.note_map, "fps": features.fps}
        for split in splits for t in index.split(split, cfg.data.get("max_tracks"))
    ]
    workers = int(cfg.get("num_workers", 0) or 0)
    bar = tqdm(total=len(jobs), desc="label stats", unit="track", disable=not progress)
    results = []
    if workers > 0 and len(jobs) > 1:
        import multiprocessing

        from drumtx.data.cache_jobs import default_mp_context

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(default_mp_context())) as pool:
            for r in pool.map(track_stats, jobs, chunksize=16):
                results.append(r)
                bar.update(1)
    else:
        for job in jobs:
            results.append(track_stats(job))
            bar.update(1)
    bar.close()
    return aggregate(results, splits, index.name, str(index.root), policy.get("hihat_pedal", False))


def aggregate(results: list[dict], splits: list[str], name: str, root: str, hihat_pedal: bool) -> dict:
    per_split = {}
    for split in splits:
        rs = [r for r in results if r["split"] == split]
        ok = [r for r in rs if "error" not in r]
        counts = LabelCounts()
        ledger = Counter()
        for r in ok:
            for field_name, values in r["counts"].items():
                getattr(counts, field_name).update({k: int(v) for k, v in values.items()})
            ledger.update(r["ledger"])
        per_split[split] = {
            "tracks": len(rs),
            "unreadable": {r["key"]: r["error"] for r in rs if "error" in r},
            "hours": round(sum(r["duration"] for r in ok) / 3600, 4),
            "duration_from": dict(Counter(r["duration_from"] for r in ok)),
            **counts.to_dict(),
            "ledger": dict(ledger),
            "unbalanced": {r["key"]: r["errors"] for r in ok if r["errors"]},
        }
    return {"dataset": name, "root": root, "hihat_pedal": hihat_pedal, "splits": per_split}


def render(report: dict) -> None:
    """Print the report as tables (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    splits = list(report["splits"])
    S = report["splits"]

    def table(title: str, rows: list[str], field_name: str | None, getter=None):
        t = Table(title=title)
        t.add_column("")
        for s in splits:
            t.add_column(s, justify="right")
        for row in rows:
            vals = [getter(S[s], row) if getter else S[s][field_name].get(row, 0) for s in splits]
            t.add_row(row, *[str(v) for v in vals])
        console.print(t)

    table(f"{report['dataset']} ({report['root']})", ["tracks", "hours"], None, lambda d, r: d[r])
    classes = sorted({c for s in splits for c in S[s]["onsets"]})
    table("events per class (frames of the roll)", classes, "onsets")
    for field_name, title in (("collisions", "collisions by kind"), ("collisions_dropped", "labels lost to collisions"),
                              ("merged", "merged (same class, same frame)"), ("dropped", "dropped by policy / outside audio"),
                              ("ignored_notes", "ignored MIDI notes (not in the note map)")):
        rows = sorted({k for s in splits for k in S[s][field_name]}, key=lambda k: (len(k), k))
        if rows:
            table(title, rows, field_name)
    table("ledger", list(next(iter(S.values()))["ledger"]) if S else [], "ledger")
    for s in splits:
        for key, err in S[s]["unreadable"].items():
            console.print(f"[yellow]unreadable[/] {key}: {err}")
        for key, errs in S[s]["unbalanced"].items():
            console.print(f"[red]LABELS LOST[/] {key}: {', '.join(errs)}")
    if all(not S[s]["unbalanced"] for s in splits):
        console.print("[green]ledger balanced: every MIDI note is accounted for in the targets or the report[/]")


@hydra_main("stats", STATS)
def main(cfg: DictConfig) -> None:
    from drumtx.data.datasets import DatasetError

    try:
        report = collect(cfg, progress=bool(cfg.get("progress", True)))
    except DatasetError as exc:  # no such folder, no csv, ...: one line, exit 2 (drumtx.cli)
        fail("drumtx.data.stats", exc, EXIT_USAGE)
    render(report)
    out_dir = cfg.paths.get("output_dir")
    if out_dir:
        from drumtx.atomic import atomic_write_text

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(out_dir) / "label_stats.json", json.dumps(report, indent=1))
        print(f"report written to {Path(out_dir) / 'label_stats.json'}")
    if any(report["splits"][s]["unbalanced"] for s in report["splits"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
