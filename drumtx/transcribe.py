"""Transcribe audio files to drum MIDI, rhythm-game charts and onset tables.

    python -m drumtx.transcribe IN [IN ...] -o OUT_DIR [--ckpt PATH] [--format midi,chart,csv,json]

Why it is built the way it is:

* **Any length, flat memory, one inference path.** The log-mel is streamed from the audio
  block by block (:func:`drumtx.features.iter_log_mel`) into a temporary file, float16, bit for
  bit what the feature cache holds for the file, and the model runs over it through
  :func:`drumtx.inference.activations` (levelling, 30 s blocks with 3 s of context, silence
  gate), the function evaluation and threshold tuning run too. What is kept per frame is a
  handful of floats (activations, variations, onset strength: ~70 bytes/frame, ~25 MB for an
  hour), so peak picking and beat tracking run once on the stitched arrays, exactly as on a
  short file.
* **Tempo map from the same stream.** Beats are tracked (librosa) on an onset-strength
  envelope computed from the log-mel of each block, never on the whole waveform.
* **Bad input never stops a batch.** Each failing file gets one line on stderr naming it and
  the reason; the others are still transcribed; the exit status is 1 at the end.

Output layout for an input ``song.wav`` (folders given as input keep their sub-folders):
``OUT_DIR/song.mid`` (GM drums + tempo map), ``OUT_DIR/song/`` (chart: notes.mid, song.ini,
song.<ext>), ``OUT_DIR/song.csv`` and ``OUT_DIR/song.json`` (one row per onset).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from drumtx.cli import EXIT_INTERRUPTED, OneLineParser, add_version, prog_name

try:  # Ctrl-C while the libraries load (seconds on a busy machine): one line, not an import traceback
    import torch

    from drumtx import CONF_DIR, LOAD_PROBE
    from drumtx.audio import band_limit
    from drumtx.chart import (
        CHART_DIFFICULTIES,
        SNAP_DIVISIONS,
        ChartStats,
        SongInfo,
        check_difficulties,
        check_divisions,
        copy_song_audio,
        song_audio,
    )
    from drumtx.chart_reductions import reductions
    from drumtx.cpu_load import default_threads
    from drumtx.errors import exception_line
    from drumtx.inference import InferenceSettings, check_gate, resolve_device
    from drumtx.output_settings import SETTINGS_FILE
    from drumtx.outputs import (
        FORMATS,
        MIDI_RESOLUTION,
        all_outputs_exist,
        check_writable,
        existing_outputs,
        name_too_long,
        output_paths,
        write_outputs,
    )
    from drumtx.targets import Onset
    from drumtx.transcriber import (
        DEFAULT_CKPT,
        INPUT_SUFFIXES,
        PROG,
        FileProgress,
        InputError,
        Transcriber,
        collect_inputs,
        parse_thresholds,
    )
    from drumtx.vocab import Vocabulary
except KeyboardInterrupt:
    print(f"{prog_name('drumtx.transcribe')}: error: interrupted", file=sys.stderr)
    raise SystemExit(EXIT_INTERRUPTED) from None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog_name(PROG),
        prefix=f"{prog_name(PROG)}: error",
        description=(
            "Transcribe drums in audio files to MIDI (GM drums, tempo map from beat tracking), "
            "Clone Hero / Rock Band charts and onset tables. Files and folders (searched recursively for "
            f"{' '.join(INPUT_SUFFIXES)}) of any length, sample rate and channel count."
        ),
        epilog=(
            "Outputs per input <stem>: OUT_DIR/<stem>.mid; with chart: OUT_DIR/<stem>/notes.mid + song.ini "
            "(+ song.<ext> audio); with csv/json: OUT_DIR/<stem>.csv / .json (time, class, variation, velocity, "
            "confidence per onset). Files found in a folder keep their sub-folder under OUT_DIR. "
            "Chart lanes (drumtx.chart.CHART_LANES): kick -> kick; snare head and rim -> red; hi-hat -> "
            "yellow cymbal; ride -> blue cymbal; crash -> green cymbal; high/mid/floor tom -> yellow/blue/green "
            "tom. Existing outputs are never replaced without --overwrite (--skip-existing: an input whose "
            "outputs are all there is left out, and one with some of them gets only the others). Exit status: 0 all done, 1 some input failed (each named on stderr, the others still transcribed, then a count), 2 setup error (model, options, an output folder that cannot be made or written), 130 interrupted (Ctrl-C; no output half-written)."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", type=_input, help="audio files or folders")
    parser.add_argument("-o", "--out-dir", required=True, type=_out_dir, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--ckpt",
        type=Path,
        default=None,
        help="model: a drumtx bundle (.safetensors + .json sidecar) or a Lightning .ckpt; default (or 'default'): "
        "the packaged model drumtx/assets/default_model.safetensors (+ .json)",
    )
    parser.add_argument(
        "--format",
        default="midi",
        help=f"comma-separated output formats, any of {','.join(FORMATS)} (default: midi)",
    )
    parser.add_argument(
        "--device", default="cpu", metavar="{cpu,cuda,cuda:N,auto}",
        help="where the model runs: auto is CUDA when this machine has it (default: cpu)"
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (else such inputs fail)"
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave out an input whose every output is already there (a batch run again after new files "
        "were added); it counts as done, not failed. An input with some of its outputs (a format added to "
        "--format, a chart folder without its audio) gets only the missing ones; those there are kept as they are",
    )
    parser.add_argument(
        "--thresholds",
        default=None,
        metavar="JSON",
        help='override peak-picking per instrument, JSON text or a .json file: {"kick": 0.4, '
        '"crash": {"threshold": 0.7, "min_gap_s": 0.1}}; default: the checkpoint\'s tuned thresholds',
    )
    # How the model runs over a file: defaults from conf/inference/default.yaml (drumtx.inference),
    # the same settings evaluate and tune_thresholds use.
    inference = InferenceSettings.from_config()
    parser.add_argument(
        "--chunk-seconds",
        type=float,
        default=inference.chunk_seconds,
        help="model chunk length in s (default: %(default)g)",
    )
    parser.add_argument(
        "--context-seconds",
        type=float,
        default=inference.context_seconds,
        help="context in s on each side of a chunk, run but not kept (default: %(default)g)",
    )
    parser.add_argument(
        "--edge-silence",
        type=_seconds,
        default=argparse.SUPPRESS,  # absent: the model's own
        metavar="SECONDS",
        help="silence the model hears before the file starts and after it ends, so a hit on the very first "
        "frame is heard as one (default: the model's own, the lead of silence it was trained with; 0 for the "
        "packaged model)",
    )
    parser.add_argument(
        "--level-db",
        type=_db_or_off,
        default=argparse.SUPPRESS,  # absent: the model's own setting
        metavar="DB|off",
        help="move each file's loudest log-mel bin to this level (dB re a full-scale 1 kHz sine) by scaling its "
        "samples before the model, so a quiet take gives the notes of a loud one; off: use the level as it is "
        "(default: the model's features.level_db, -15 for the packaged model)",
    )
    parser.add_argument(
        "--gate-db",
        type=_db_or_off,
        default=inference.gate_db,
        metavar="DB|off",
        help="silence gate: frames quieter than this after levelling (so relative to the file's loudest) hold "
        "no onsets; off: no gate (default: %(default)s)",
    )
    parser.add_argument(
        "--presence-confidence",
        type=_confidence_or_off,
        default=argparse.SUPPRESS,  # absent: the model's own gate
        metavar="P|off",
        help="drum presence gate: no onset unless the model's kick, snare, hi-hat or ride output reaches this "
        f"confidence (0-1) within {inference.presence_seconds:g} s, so music without drums gets no invented hits. "
        "Lower it (0.7) or turn it off (off or 0) where quiet drums under loud music lose hits, or for a solo on "
        "toms alone; near 1 it leaves few or no onsets at all (default: the model's own gate; the packaged "
        "model's is 0.8, a model you trained has none)",
    )
    parser.add_argument(
        "--title",
        default=None,
        help="song name for the chart's song.ini and the MIDI track name (default: each input's file stem)",
    )
    parser.add_argument(
        "--artist", default="Unknown Artist", help="artist for the chart's song.ini, the MIDI text events and the JSON (default: Unknown Artist)"
    )
    parser.add_argument("--album", default="", help="album for song.ini, the MIDI text events and the JSON (default: empty)")
    parser.add_argument("--genre", default="", help="genre for song.ini, the MIDI text events and the JSON (default: empty)")
    parser.add_argument(
        "--charter", default="drumtx", help="charter for song.ini, the MIDI text events and the JSON (default: drumtx)"
    )
    parser.add_argument(
        "--bpm",
        type=_bpm,
        default=None,
        metavar="BPM",
        help="the song's tempo, where you know it (e.g. 184): beats are tracked at it instead of an estimate, "
        "which can be half or double, and a song recorded to a click gets that one tempo in its MIDI and chart "
        "maps, bar lines steady through fills; for songs of one tempo (every file given)",
    )
    parser.add_argument(
        "--chart-grid",
        type=_chart_grid,
        default=None,
        metavar="DIVISIONS|off",
        help="the chart's beat grid: steps per beat tried for each beat, the first preferred (default "
        f"{','.join(map(str, SNAP_DIVISIONS)) or 'off'}: 16ths, or 8th-note triplets where a beat's hits fit them "
        "clearly better; e.g. 4 for 16ths only, 4,6 for 16ths or 16th-note triplets); off keeps each hit's exact "
        "tick. The MIDI output always keeps exact times",
    )
    parser.add_argument(
        "--chart-difficulties",
        type=_chart_difficulties,
        default=None,
        metavar="LIST",
        help=f"the chart's difficulties, of expert, hard, medium and easy (default {','.join(CHART_DIFFICULTIES)}); "
        "Hard, Medium and Easy are reduced from Expert by rule (README, 'Chart difficulties')",
    )
    parser.add_argument(
        "--no-chart-audio",
        dest="chart_audio",
        action="store_false",
        help="do not put the audio into chart folders",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="torch CPU threads (default: torch's choice, less one per core other processes keep busy, at least "
        "1: on busy cores the LSTM's threads wait for each other)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-file lines")
    add_version(parser)
    return parser


#: --level-db and --gate-db, dB re the loudest bin of a full-scale 1 kHz sine: above 0 is louder
#: than full scale (nothing was trained there; a new-user trial's --level-db 1e300 "worked"), and
#: far below the log-mel's floor a gate is no gate (-1e300 overflowed float16 with a warning).
DB_RANGE = (-200.0, 0.0)


def _db_or_off(text: str) -> float | None:
    """A level in dB within :data:`DB_RANGE`, or ``off`` (None)."""
    if text.strip().lower() in ("off", "none", "null"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not DB_RANGE[0] <= value <= DB_RANGE[1]:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"expected a number of dB from {DB_RANGE[0]:g} to {DB_RANGE[1]:g} or 'off', got {text!r}")
    return value


def _input(text: str) -> Path:
    if not text.strip():  # Path("") is "." : an empty name (an unset shell variable) would read the current folder
        raise argparse.ArgumentTypeError("expected an audio file or folder, got an empty name")
    return Path(text)


def _out_dir(text: str) -> Path:
    if not text.strip():  # Path("") is "." : an empty -o would write into the current folder unasked
        raise argparse.ArgumentTypeError("expected a folder, got an empty name")
    return Path(text)


def _confidence_or_off(text: str) -> float:
    """A confidence in [0, 1] (0: no gate), or ``off`` (0)."""
    if text.strip().lower() in ("off", "none", "null"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a confidence from 0 to 1 (0 or off: no gate), got {text!r}")
    return value


def _seconds(text: str) -> float:
    """argparse type of ``--edge-silence``: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    """argparse type of ``--threads``: a whole number >= 1 (else argparse's one-line usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _chart_grid(text: str) -> tuple[int, ...]:
    """argparse type of ``--chart-grid``: ``off`` (exact ticks) or steps per beat, e.g. ``4,3``."""
    if text.strip().lower() == "off":
        return ()
    try:
        divisions = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not steps per beat (e.g. 4,3) or off: {text!r}") from None
    try:
        check_divisions(divisions)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("chart grid: ")) from None
    return divisions


def _bpm(text: str) -> float:
    """argparse type of ``--bpm``: a tempo in beats per minute, 20-400."""
    try:
        bpm = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of beats per minute") from None
    if not 20.0 <= bpm <= 400.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 20-400 beats per minute") from None
    return bpm


def _chart_difficulties(text: str) -> tuple[str, ...]:
    """argparse type of ``--chart-difficulties``: e.g. ``expert`` or ``expert,hard``."""
    levels = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    try:
        check_difficulties(levels)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return levels


#: The inference settings' config keys as this command's flags, for their error messages.
_FLAGS = {
    "chunk_seconds": "--chunk-seconds",
    "context_seconds": "--context-seconds",
    "edge_silence_seconds": "--edge-silence",
    "gate_db": "--gate-db",
    "presence_confidence": "--presence-confidence",
    "level_db": "--level-db",
}


def _flag_names(message: str) -> str:
    """A settings error in the flags' terms (``inference: need chunk_seconds > …`` names config keys)."""
    message = message.removeprefix("inference: ")
    for key, flag in _FLAGS.items():
        message = message.replace(key, flag)
    return message


def _error(message: str) -> None:
    print(f"{prog_name(PROG)}: error: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        _error(f"--format: unknown format(s) {bad or args.format!r}; choose from {','.join(FORMATS)}")
        return 2
    chart_only = [flag for flag, given in (("--chart-grid", args.chart_grid is not None),
                                           ("--chart-difficulties", args.chart_difficulties is not None),
                                           ("--no-chart-audio", not args.chart_audio)) if given]
    if chart_only and "chart" not in formats:  # (a charter's try, 2026-12-08: silently ignored)
        print(f"{prog_name(PROG)}: warning: {', '.join(chart_only)} only change{'s' * (len(chart_only) == 1)} charts, and "
              f"--format {','.join(formats)} writes none (add chart: --format {','.join([*formats, 'chart'])})",
              file=sys.stderr, flush=True)
    if "chart" in formats:  # the chart's settings file, read before any file is transcribed
        try:
            check_difficulties(CHART_DIFFICULTIES)
            check_divisions(SNAP_DIVISIONS)
            reductions()
        except ValueError as e:
            _error(f"{CONF_DIR / SETTINGS_FILE}: {e}")
            return 2
        except KeyError as e:
            _error(f"{CONF_DIR / SETTINGS_FILE}: chart_reductions lacks {e}")
            return 2
    try:
        args.device = str(resolve_device(args.device))  # auto: cuda or cpu from here on
    except ValueError as e:
        _error(f"--device {args.device}: {e}; use --device cpu")
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    elif args.device == "cpu":  # fewer threads when other processes keep cores busy (drumtx.cpu_load)
        torch.set_num_threads(default_threads(torch.get_num_threads(), LOAD_PROBE.busy_cores_of_others()))
    problem = _out_dir_problem(args.out_dir)
    if problem:
        _error(f"-o {args.out_dir}: {problem}")
        return 2

    ckpt = args.ckpt
    if ckpt is None or str(ckpt) == "default":  # "default" as for evaluate's ckpt= and init_weights=
        if not DEFAULT_CKPT.is_file() or not DEFAULT_CKPT.with_suffix(".json").is_file():
            _error(
                f"no packaged default model yet ({DEFAULT_CKPT} is missing); pass --ckpt PATH to a trained model"
            )
            return 2
        ckpt = DEFAULT_CKPT
    if ckpt.is_dir():
        hint = " (a training run's model is its best.safetensors)" if (ckpt / "best.safetensors").is_file() else ""
        _error(f"--ckpt {ckpt}: is a folder, not a model file{hint}")
        return 2
    if not ckpt.is_file():
        from drumtx.checkpoint import default_hint

        _error(f"--ckpt {ckpt}: no such file{default_hint(ckpt)}")
        return 2
    from drumtx.checkpoint import CheckpointError, load_transcriber

    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of files it then refuses; the refusal says it all.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            model, meta = load_transcriber(ckpt, device=args.device)
    except CheckpointError as exc:
        message = " ".join(str(exc).split())
        _error(message if str(ckpt) in message else f"{ckpt}: {message}")
        return 2
    try:
        overrides = parse_thresholds(args.thresholds, list(model.vocab.instruments))
        transcriber = Transcriber(
            model,
            meta,
            device=args.device,
            thresholds=overrides,
            model_file=ckpt,
            settings=InferenceSettings.from_config(
                chunk_seconds=args.chunk_seconds,
                context_seconds=args.context_seconds,
                **({"edge_silence_seconds": args.edge_silence} if hasattr(args, "edge_silence") else {}),
                gate_db=args.gate_db,
                **({"presence_confidence": args.presence_confidence} if hasattr(args, "presence_confidence") else {}),
            ),
        )
        if hasattr(args, "level_db"):  # levelling is part of the model's features; the CLI overrides it
            transcriber.features.level_db = args.level_db
        check_gate(transcriber.settings.gate_db, transcriber.features)  # before any file is read
    except ValueError as exc:
        _error(_flag_names(str(exc)))
        return 2

    jobs, errors = collect_inputs(args.inputs, args.out_dir)
    for message in errors:
        _error(message)
    try:
        created = _make_folder(args.out_dir) if jobs else []
    except OSError as exc:
        _error(f"-o {args.out_dir}: cannot create the folder ({exc.strerror or exception_line(exc)})")
        return 2
    try:
        if jobs:
            # before any input is read: a new-user trial saw a read-only -o refused only after the
            # whole file was transcribed, as a raw exception naming the staging folder
            check_writable(args.out_dir)
    except OSError as exc:
        _remove_empty(created)
        _error(f"-o {args.out_dir}: cannot write there ({exc.strerror or exception_line(exc)})")
        return 2
    try:
        failed, done, skipped = _transcribe_jobs(args, jobs, transcriber, formats, len(errors))
    except KeyboardInterrupt:
        _error("interrupted; the files finished before it are complete, none is half-written")
        return EXIT_INTERRUPTED
    finally:
        _remove_empty(created)  # folders this run made and left empty: no debris
    left_out = f", {skipped} left out (outputs there)" if skipped else ""
    if failed:
        _error(f"{failed} input(s) failed, {done} transcribed{left_out}")
        return 1
    if skipped and not args.quiet:
        print(f"{done} transcribed{left_out}", flush=True)
    return 0


def _out_dir_problem(path: Path) -> str | None:
    """Why ``-o path`` cannot be the output folder, found before the model loads (None: it can)."""
    try:
        if path.exists() and not path.is_dir():
            return "is a file, not a folder"
        blocker = next((q for q in path.parents if q.exists() and not q.is_dir()), None)
    except OSError as exc:  # a name over the file system's limit (ENAMETOOLONG)
        return exc.strerror or exception_line(exc)
    if blocker is not None:
        return f"cannot create the folder ({blocker} is a file)"
    return None


def _make_folder(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; the folders created, outermost first.

    Raises:
        OSError: a folder cannot be created (no permission, a read-only or virtual file system).
    """
    missing = [q for q in (path, *path.parents) if not q.exists()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # the folders made before the one that failed go again (a new-user trial found them left)
        for folder in reversed(missing):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return missing


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders :func:`_make_folder` created (outermost first), innermost first, while empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break


def _why_no_onsets(result, transcriber) -> str | None:
    """Which gate left a transcription without onsets, when one shut every frame; else None
    (the model heard no hit above its thresholds)."""
    settings = transcriber.settings
    if result.silent_share >= 1.0 and settings.gate_db is not None:
        levelled = transcriber.features.level_db is not None
        return (f"every frame is below the silence gate (--gate-db {settings.gate_db:g} dB"
                + ("; the file is silent, or nearly" if levelled else
                   "; with --level-db off it is absolute, not relative to the file's level") + ")")
    if result.drumless_share >= 1.0 and settings.presence_confidence is not None:
        return (f"no drums heard: the drum presence gate shut every frame (the model's "
                f"{', '.join(settings.presence_instruments)} outputs stay below {settings.presence_confidence:g}; "
                "--presence-confidence off lets quieter drums through, and invented hits on music)")
    return None


def _transcribe_jobs(args, jobs, transcriber, formats, failed: int) -> tuple[int, int, int]:
    """Transcribe every job into ``args.out_dir``; (failed, transcribed, left out) counts."""
    done = skipped = 0
    for job in jobs:
        paths = output_paths(args.out_dir, job.rel, formats)
        too_long = name_too_long(paths)  # first: a path too long to stat cannot be probed for outputs
        if too_long:
            _error(f"{job.source}: {too_long}")
            failed += 1
            continue
        if args.skip_existing:
            whole = {f for f, p in paths.items() if all_outputs_exist({f: p})}
            if "chart" in whole and args.chart_audio and song_audio(paths["chart"]) is None:
                # a chart folder written with --no-chart-audio, or its song.* deleted: the audio alone is missing
                if not _add_chart_audio(job.source, paths["chart"], args.quiet):
                    failed += 1
                    continue
            if len(whole) == len(paths):
                skipped += 1
                continue
            # a format added to an earlier run's (--format midi, then midi,csv): make only what is missing
            paths = {f: p for f, p in paths.items() if f not in whole}
        existing = existing_outputs(paths)  # (with --skip-existing, a chart folder only partly there)
        if existing and not args.overwrite:
            hint = "--overwrite to replace it" + (" (a chart folder only partly there)" if args.skip_existing else
                                                   ", or --skip-existing to make only the outputs not there yet")
            _error(f"{job.source}: output {existing[0]} exists; pass {hint}")
            failed += 1
            continue
        info = SongInfo(
            name=args.title if args.title is not None else job.source.stem,
            artist=args.artist,
            album=args.album,
            genre=args.genre,
            charter=args.charter,
        )
        try:
            # one bar per file over every stage, on a terminal (FileProgress)
            with FileProgress(job.source.name, enabled=not args.quiet and sys.stderr.isatty()) as bar:
                result = transcriber.transcribe(job.source, progress=bar, bpm=args.bpm)
                if args.bpm is not None and len(result.beats) >= 4 and result.steady_bpm is None:
                    bar.write(f"{prog_name(PROG)}: note: {job.source}: the beats tracked at --bpm {args.bpm:g} do not "
                              "keep to one steady grid (a tempo change, or another tempo); the map follows them "
                              "(for a song whose tempo changes, leave --bpm out)")
                elif args.bpm is not None and result.steady_bpm is not None and abs(result.steady_bpm - args.bpm) > 0.05:
                    bar.write(f"{prog_name(PROG)}: note: {job.source}: the beats keep to a steady "
                              f"{result.steady_bpm:.2f} bpm, not the {args.bpm:g} given; the map holds {result.steady_bpm:.2f}")
                if result.truncated:  # a cut-off download or copy: what decodes is transcribed, the user should know
                    bar.write(f"{prog_name(PROG)}: note: {job.source}: {result.truncated}; transcribed what decodes")
                narrow = band_limit(job.source, transcriber.features.f_max)
                if narrow:  # a phone or telephone-rate file: its cymbals are not there to hear
                    bar.write(f"{prog_name(PROG)}: note: {job.source}: {narrow}")
                why = _why_no_onsets(result, transcriber) if not result.onsets else None
                if why:  # 0 onsets and exit 0 said nothing of a gate that shut every frame
                    bar.write(f"{prog_name(PROG)}: note: {job.source}: no onsets: {why}")
                bar.stage("writing")
                chart = ChartStats() if "chart" in paths else None
                written = write_outputs(result, paths, transcriber, info=info, chart_audio=args.chart_audio,
                                        chart_grid=args.chart_grid, chart_stats=chart,
                                        chart_difficulties=args.chart_difficulties)
        except InputError as exc:
            _error(str(exc))
            failed += 1
            continue
        except (OSError, ValueError, RuntimeError) as exc:
            _error(f"{job.source}: {exception_line(exc)}")
            failed += 1
            continue
        done += 1
        if not args.quiet:
            counts = ", ".join(f"{k} {v}" for k, v in _class_counts(result.onsets, transcriber.vocab).items())
            # no beats tracked (silence, a few hits): the outputs' 120 bpm is MIDI's default, not a finding
            tempo = f"~{result.tempo_map(MIDI_RESOLUTION).mean_bpm():.0f} bpm" if len(result.beats) >= 2 else "no beat"
            print(
                f"{job.source} -> {', '.join(str(p) for p in written)} "
                f"({len(result.onsets)} onsets{': ' + counts if counts else ''}; {tempo}, {result.duration:.1f} s"
                f"{'; chart ' + chart.summary() if chart is not None else ''})",
                flush=True,
            )
    return failed, done, skipped


def _add_chart_audio(source: Path, folder: Path, quiet: bool) -> bool:
    """Put ``source`` into an existing chart folder as its ``song.<ext>``; False (said on stderr)
    when it cannot be read or written."""
    try:
        song = copy_song_audio(source, folder)
    except Exception as exc:  # soundfile cannot transcode every input (m4a), or the folder is read-only
        _error(f"{source}: chart audio not added to {folder} ({exception_line(exc)})")
        return False
    if not quiet:
        print(f"{source} -> {song} (the chart audio its folder lacked)", flush=True)
    return True


def _class_counts(onsets: Sequence[Onset], vocab: Vocabulary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in onsets:
        inst = vocab.instrument_of(o.fine_class)
        counts[inst] = counts.get(inst, 0) + 1
    return counts


def exit_now(status: int) -> NoReturn:
    """End the process with ``status`` without the interpreter's clean-up (stdout and stderr
    flushed, then ``os._exit``). Every output is written and closed by then; the clean-up would
    only run the C++ static destructors of torch's libraries, which page 70-180 MB of the CUDA
    build's code back in (the peak RSS of a run) and cost ~0.3 s of CPU (experiments/bench)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def console_main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``drumtx-transcribe`` console script: :func:`main` (``argv``: default the command
    line), ended by :func:`exit_now` as ``python -m drumtx.transcribe`` is (pip's script
    wrapper would call ``sys.exit``, paying the interpreter's clean-up). The process ends here;
    only argparse's own exits (``--help``, ``--version``, usage errors) raise ``SystemExit``.
    Ctrl-C ends it with status 130 and one line (outputs are written atomically: none is half-written)."""
    try:
        status = main(argv)
    except KeyboardInterrupt:
        _error("interrupted")
        status = EXIT_INTERRUPTED
    exit_now(status)


if __name__ == "__main__":
    console_main()
