"""The output set of one transcription: drum MIDI, chart folder, CSV and JSON onset tables.

:func:`write_outputs` writes every requested format of one input as a set (all of them appear,
or none does); :func:`output_paths` names them. The transcription itself is
:mod:`drumtx.transcriber`; the command is :mod:`drumtx.transcribe`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import drumtx
from drumtx.atomic import interrupts_deferred
from drumtx.chart import (
    CHART_DIFFICULTIES,
    RESOLUTION,
    SNAP_DIVISIONS,
    ChartStats,
    SongInfo,
    copy_song_audio,
    write_chart,
)
from drumtx.errors import exception_line
from drumtx.midi_out import drum_midi, one_line_text
from drumtx.transcriber import PROG, Transcriber, Transcription
from drumtx.vocab import Vocabulary

FORMATS = ("midi", "chart", "csv", "json")
MIDI_RESOLUTION = 960  # DAW MIDI: half a tick is ~0.26 ms at 120 bpm
#: The hidden staging folder of :func:`write_outputs`, beside the outputs (short, so a long song
#: name never overflows a temporary name)
STAGING_PREFIX = ".drumtx-"


def output_paths(out_dir: Path, rel: Path, formats: Sequence[str]) -> dict[str, Path]:
    base = out_dir / rel
    table = {
        "midi": base.with_name(base.name + ".mid"),
        "chart": base,  # a folder: notes.mid, song.ini, song.<ext>
        "csv": base.with_name(base.name + ".csv"),
        "json": base.with_name(base.name + ".json"),
    }
    return {f: table[f] for f in formats}


def existing_outputs(paths: dict[str, Path]) -> list[Path]:
    """Outputs already there (a chart folder counts when it holds notes.mid or song.ini)."""
    out = []
    for fmt, p in paths.items():
        probes = [p / "notes.mid", p / "song.ini"] if fmt == "chart" else [p]
        out += [q for q in probes if q.exists()]
    return out


def all_outputs_exist(paths: dict[str, Path]) -> bool:
    """Every format's output is there (a chart folder: both notes.mid and song.ini), as one
    input's outputs are moved in together; a partial set means something else wrote there."""
    return all(
        (p / "notes.mid").is_file() and (p / "song.ini").is_file() if fmt == "chart" else p.is_file()
        for fmt, p in paths.items()
    )


def _limit(parent: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(parent, name)
    except (OSError, ValueError):
        return default


def name_too_long(paths: dict[str, Path]) -> str | None:
    """Why an output cannot be named so on its file system, or None: a name (the file's or a
    folder's) over NAME_MAX bytes, or the whole path over PATH_MAX. Never raises: a path too
    long to ``stat`` is what it reports (found by a new-user trial: the check for existing
    outputs raised ENAMETOOLONG first and ended the batch)."""
    for fmt, p in paths.items():
        try:
            parent = next((q for q in p.parents if q.exists()), Path("."))
        except OSError:  # the path is over PATH_MAX before its last parts
            parent = Path(".")
        limit = _limit(parent, "PC_NAME_MAX", 255)
        for part in p.parts:
            size = len(os.fsencode(part))
            if size > limit:
                what = "output name" if part == p.name else "output folder name"
                return f"{what} {part[:40]!r}… is {size} bytes, the file system allows {limit}; rename the input"
        full = len(os.fsencode(os.path.abspath(p))) + (len("/notes.mid") if fmt == "chart" else 0)
        path_limit = _limit(parent, "PC_PATH_MAX", 4096)
        if full >= path_limit:
            return (f"output path is {full} bytes, the file system allows {path_limit - 1}; "
                    "use a shorter -o or input folder")
    return None


def onset_rows(result: Transcription, vocab: Vocabulary) -> list[dict]:
    return [
        {
            "time": round(o.time, 6),
            "class": vocab.instrument_of(o.fine_class),
            "variation": o.fine_class,
            "velocity": int(o.velocity),
            "confidence": round(float(c), 4),
        }
        for o, c in zip(result.onsets, result.confidences, strict=True)
    ]


def _staging_folder(parent: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))


def check_writable(folder: Path) -> None:
    """Make and remove the staging folder :func:`write_outputs` would make in ``folder``.

    A real write: permissions, ACLs and read-only file systems all answer it, where
    ``os.access`` misses some (and is always true for root).

    Raises:
        OSError: nothing can be written in ``folder``.
    """
    _staging_folder(folder).rmdir()


def write_outputs(
    result: Transcription,
    paths: dict[str, Path],
    transcriber: Transcriber,
    info: SongInfo | None = None,
    chart_audio: bool = True,
    chart_grid: Sequence[int] | None = None,
    chart_stats: ChartStats | None = None,
    chart_difficulties: Sequence[str] | None = None,
) -> list[Path]:
    """Write every requested format as one set: all of them appear, or none does.

    Everything is first written into a hidden staging folder beside the outputs
    (``.drumtx-*``, same file system, short names, so a long song name never overflows a
    temporary name), then moved into place with :func:`os.replace`. If anything fails, the
    outputs already moved are taken back (replaced ones restored) and the staging folder is
    removed: a failure never leaves a partial set that would block the rerun.

    Args:
        result: the transcription.
        paths: format -> output path, from :func:`output_paths` (all in one folder).
        transcriber: for the vocabulary, frame rate and thresholds written to JSON.
        info: the chart's song.ini text (default: the file stem as the name).
        chart_audio: put the audio into the chart folder.
        chart_grid: the chart gems' beat grid (:func:`drumtx.chart.snap_ticks`; empty: exact
            ticks; None: ``chart_grid.divisions`` of ``conf/outputs/default.yaml``).
        chart_stats: the chart's gem, dynamics and drop counts are added to it when a chart is written.
        chart_difficulties: the chart's difficulties (None: ``chart_difficulties`` of
            ``conf/outputs/default.yaml``, all four).

    Returns:
        The paths written (the chart as its folder).

    Raises:
        OSError, ValueError: an output cannot be written (nothing is left of this set).
    """
    info = info or SongInfo(result.source.stem)
    rows = onset_rows(result, transcriber.vocab)
    parents = {p.parent for p in paths.values()}
    if len(parents) != 1:
        raise ValueError(f"outputs of one input must share a folder, got {sorted(map(str, parents))}")
    parent = parents.pop()
    parent.mkdir(parents=True, exist_ok=True)
    stage = _staging_folder(parent)
    moves: list[tuple[Path, Path]] = []  # (staged file, final path)
    try:
        if "midi" in paths:
            staged = stage / "out.mid"
            drum_midi(
                result.onsets, result.tempo_map(MIDI_RESOLUTION), name=info.name, texts=info.credits()
            ).save(str(staged))
            moves.append((staged, paths["midi"]))
        if "chart" in paths:
            chart = stage / "chart"
            tempo = result.tempo_map(RESOLUTION)
            write_chart(chart, result.onsets, tempo, result.duration, info,
                        divisions=SNAP_DIVISIONS if chart_grid is None else chart_grid,
                        difficulties=CHART_DIFFICULTIES if chart_difficulties is None else chart_difficulties,
                        stats=chart_stats)
            if chart_audio:
                try:
                    copy_song_audio(result.source, chart)
                except Exception as exc:  # soundfile cannot transcode every input (m4a): the chart stands
                    from drumtx.cli import prog_name

                    print(
                        f"{prog_name(PROG)}: note: {result.source}: chart audio not added ({exception_line(exc)}); "
                        f"put it into {paths['chart']} as song.ogg yourself",
                        file=sys.stderr,
                    )
            moves += [(f, paths["chart"] / f.name) for f in sorted(chart.iterdir())]
        if "csv" in paths:
            staged = stage / "out.csv"
            with open(staged, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(
                    fh, fieldnames=["time", "class", "variation", "velocity", "confidence"]
                )
                writer.writeheader()
                writer.writerows(rows)
            moves.append((staged, paths["csv"]))
        if "json" in paths:
            staged = stage / "out.json"
            tempo = result.tempo_map(MIDI_RESOLUTION)
            doc = {
                "source": one_line_text(str(result.source)),
                "title": info.name,
                "artist": info.artist,
                "album": info.album,
                "genre": info.genre,
                "charter": info.charter,
                "duration": round(result.duration, 3),
                "fps": transcriber.fps,
                "tempo_bpm": round(tempo.mean_bpm(), 2),
                "beats": [round(float(b), 4) for b in result.beats],
                # --bpm as given, and the steady grid's tempo where the beats are one (else null)
                "bpm_given": result.bpm_given,
                "steady_bpm": None if result.steady_bpm is None else round(result.steady_bpm, 4),
                "velocity_source": result.velocity_source,
                "thresholds": transcriber.thresholds,
                "inference": transcriber.settings.to_dict(),  # the drum presence gate as applied, among others
                "drumtx_version": drumtx.__version__,
                "model": getattr(transcriber, "model_identity", None),  # name, weights file, sha256: which model wrote it
                "onsets": rows,
            }
            staged.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
            moves.append((staged, paths["json"]))
        with interrupts_deferred():  # the set moves in whole (a Ctrl-C lands after it)
            _move_into_place(moves, stage)
    finally:
        with interrupts_deferred():
            shutil.rmtree(stage, ignore_errors=True)
    return [paths[f] for f in ("midi", "chart", "csv", "json") if f in paths]


def _move_into_place(moves: list[tuple[Path, Path]], stage: Path) -> None:
    """``os.replace`` each staged file onto its final path; on any failure undo the moves done."""
    done: list[tuple[Path, Path | None]] = []  # (final path, its previous version kept in stage)
    made: list[Path] = []  # folders created here
    try:
        for i, (src, dst) in enumerate(moves):
            if not dst.parent.is_dir():
                dst.parent.mkdir(parents=True)
                made.append(dst.parent)
            backup = None
            if dst.exists():
                backup = stage / f"previous-{i}"
                os.replace(dst, backup)
            done.append((dst, backup))
            os.replace(src, dst)
    except BaseException:
        for dst, backup in reversed(done):
            try:
                if backup is not None:
                    os.replace(backup, dst)
                else:
                    dst.unlink(missing_ok=True)
            except OSError:
                pass
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
