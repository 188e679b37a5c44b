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
import csv
import dataclasses
import inspect
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import drumtx
from drumtx.audio import AUDIO_EXTENSIONS, AudioError
from drumtx.chart import SongInfo
from drumtx.checkpoint import PACKAGED_MODEL
from drumtx.cli import add_version
from drumtx.decode import DEFAULT_THRESHOLDS, decode_onsets, onset_confidences
from drumtx.features import LogMel
from drumtx.inference import Activations, InferenceSettings, activations
from drumtx.midi_out import TempoMap, drum_midi, one_line_text
from drumtx.targets import Onset
from drumtx.tempo import estimate_beats
from drumtx.vocab import Vocabulary

PROG = "drumtx.transcribe"
DEFAULT_CKPT = PACKAGED_MODEL
FORMATS = ("midi", "chart", "csv", "json")
#: Suffixes picked up when a folder is given. m4a/aac need an audioread backend (ffmpeg).
INPUT_SUFFIXES = tuple(sorted({*AUDIO_EXTENSIONS, ".aif", ".aiff", ".aifc", ".m4a", ".aac"}))
#: Formats soundfile cannot decode; tried through librosa/audioread (whole file in memory).
FALLBACK_SUFFIXES = (".m4a", ".aac", ".mp4", ".wma")
MIDI_RESOLUTION = 960  # DAW MIDI: half a tick is ~0.26 ms at 120 bpm
CHART_RESOLUTION = 480  # Clone Hero / Rock Band convention


class InputError(Exception):
    """One input cannot be transcribed; the message is one line naming the file."""


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Job:
    source: Path
    rel: Path  # output path without suffix, relative to OUT_DIR (stem, or sub/stem for folder inputs)


def collect_inputs(paths: Sequence[str | Path], out_dir: Path | None = None) -> tuple[list[Job], list[str]]:
    """Expand files and folders (recursively, audio suffixes only) into jobs, plus error lines.

    Files named explicitly are always tried (a non-audio file then fails with its reason);
    files found in folders are filtered by suffix, and anything under ``out_dir`` is skipped
    (a previous run's chart audio must not be transcribed again).
    """
    jobs, errors, seen, names = [], [], set(), {}
    out_resolved = out_dir.resolve() if out_dir is not None else None
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in INPUT_SUFFIXES and not f.name.startswith(".")
            )
            if out_resolved is not None:
                found = [f for f in found if out_resolved not in f.resolve().parents]
            if not found:
                errors.append(f"{p}: folder holds no audio files ({', '.join(INPUT_SUFFIXES)})")
            candidates = [(f, f.relative_to(p).with_suffix("")) for f in found]
        else:
            candidates = [(p, Path(p.stem))]
        for f, rel in candidates:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            if rel in names:
                errors.append(
                    f"{f}: its outputs ({rel}.*) would clash with those of {names[rel]}; rename one of them"
                )
                continue
            names[rel] = f
            jobs.append(Job(f, rel))
    return jobs, errors


def output_paths(out_dir: Path, rel: Path, formats: Sequence[str]) -> dict[str, Path]:
    base = out_dir / rel
    table = {
        "midi": base.with_name(base.name + ".mid"),
        "chart": base,  # a folder: notes.mid, song.ini, song.<ext>
        "csv": base.with_name(base.name + ".csv"),
        "json": base.with_name(base.name + ".json"),
    }
    return {f: table[f] for f in formats}


def _existing(paths: dict[str, Path]) -> list[Path]:
    """Outputs already there (a chart folder counts when it holds notes.mid or song.ini)."""
    out = []
    for fmt, p in paths.items():
        probes = [p / "notes.mid", p / "song.ini"] if fmt == "chart" else [p]
        out += [q for q in probes if q.exists()]
    return out


def _name_too_long(paths: dict[str, Path]) -> str | None:
    """Why an output cannot be named so on its file system (a name over NAME_MAX bytes), or None."""
    for p in paths.values():
        parent = next((q for q in p.parents if q.exists()), Path("."))
        try:
            limit = os.pathconf(parent, "PC_NAME_MAX")
        except (OSError, ValueError):
            limit = 255
        size = len(os.fsencode(p.name))
        if size > limit:
            return f"output name {p.name!r} is {size} bytes, the file system allows {limit}; rename the input"
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def file_mel(path: Path, features: LogMel):
    """The float16 log-mel of one input as :func:`drumtx.inference.file_mel` streams it (the
    array the feature cache would hold for it), spooled to a temporary file.

    Adds what the batch needs on top: a clear reason for missing and empty files, and an
    audioread fallback for containers soundfile cannot read (m4a, aac), which decodes the
    whole file at once (memory then grows with length, unlike every other format).

    Raises:
        InputError: the file cannot be decoded; one line naming it.
    """
    from drumtx.inference import SpooledMel
    from drumtx.inference import file_mel as stream_mel

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        return stream_mel(path, features)
    except AudioError as exc:
        if path.suffix.lower() not in FALLBACK_SUFFIXES:
            raise InputError(str(exc)) from None
    try:
        wave = _audioread_mono(path, features.sample_rate)
    except Exception as exc:  # audioread raises NoBackendError and decoder-specific errors
        hint = " (no decoder: install ffmpeg)" if type(exc).__name__ == "NoBackendError" else ""
        raise InputError(
            f"{path}: cannot decode {path.suffix} (soundfile cannot read it; audioread: {_one_line(exc)}){hint}"
        ) from None
    if wave.size == 0:
        raise InputError(f"{path}: zero-length audio")
    if not np.isfinite(wave).all():
        raise InputError(f"{path}: audio holds non-finite samples (NaN or inf)")
    if wave.shape[0] <= features.n_fft // 2:  # too short for the STFT's reflect padding
        wave = np.pad(wave, (0, features.n_fft - wave.shape[0]))
    spool = SpooledMel(features.n_mels)
    from drumtx.features import levelled_log_mel

    mel, spool.level_db, spool.gain_db = levelled_log_mel(wave, features)  # as the feature cache levels
    spool.append(mel)
    return spool


def _audioread_mono(path: Path, sample_rate: int) -> np.ndarray:
    """Decode a whole file with audioread (ffmpeg, GStreamer or Core Audio, as installed)."""
    import audioread

    from drumtx.audio import resample

    with audioread.audio_open(str(path)) as f:
        orig_sr, channels = f.samplerate, f.channels
        pcm = np.frombuffer(b"".join(f), dtype="<i2")
    frames = pcm[: pcm.size - pcm.size % channels].reshape(-1, channels)
    wave = frames.mean(axis=1, dtype=np.float32) / 32768.0
    return resample(wave, orig_sr, sample_rate) if wave.size else wave


def spooled_onset_envelope(mel, block_frames: int = 6000) -> np.ndarray:
    """:func:`drumtx.tempo.onset_envelope` of a (spooled) log-mel, read a block at a time; the
    same values as on the whole array (each block carries the frame before it)."""
    from drumtx.tempo import onset_envelope

    n = int(mel.shape[1])
    parts = []
    for lo in range(0, n, block_frames):
        hi = min(n, lo + block_frames)
        if lo == 0:
            parts.append(onset_envelope(np.asarray(mel[:, 0:hi], dtype=np.float32)))
        else:
            parts.append(onset_envelope(np.asarray(mel[:, lo - 1 : hi], dtype=np.float32))[1:])
    return np.concatenate(parts)


# ----------------------------------------------------------------------------- model


@dataclass
class Transcription:
    source: Path
    duration: float  # seconds
    onsets: list[Onset]
    confidences: list[float]
    beats: np.ndarray  # tracked beat times (s)
    # instrument -> (activation (T,), variation (T, V)), the stitched model output
    probs: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    onset_envelope: np.ndarray = field(repr=False)

    def tempo_map(self, resolution: int) -> TempoMap:
        return TempoMap.from_beats(self.beats, resolution)


def parse_thresholds(text: str | None, instruments: Sequence[str]) -> dict[str, dict[str, float]]:
    """``--thresholds``: JSON text or a JSON file; instrument -> threshold or {threshold, min_gap_s}."""
    if not text:
        return {}
    source = Path(text)
    try:
        raw = json.loads(source.read_text() if source.suffix == ".json" and source.is_file() else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"--thresholds is neither JSON nor a readable .json file ({_one_line(exc)})"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(
            "--thresholds must be a JSON object: instrument -> threshold or {threshold, min_gap_s}"
        )
    out = {}
    for inst, value in raw.items():
        if inst not in instruments:
            raise ValueError(f"--thresholds: unknown instrument {inst!r}; this model has {list(instruments)}")
        spec = {"threshold": value} if isinstance(value, int | float) else value
        if not isinstance(spec, dict) or not set(spec) <= {"threshold", "min_gap_s"}:
            raise ValueError(
                f"--thresholds: {inst} must be a number or {{threshold, min_gap_s}}, got {value!r}"
            )
        if "threshold" in spec and not 0.0 < float(spec["threshold"]) <= 1.0:
            raise ValueError(f"--thresholds: {inst} threshold must be in (0, 1], got {spec['threshold']}")
        if "min_gap_s" in spec and not 0.0 <= float(spec["min_gap_s"]) < 10.0:
            raise ValueError(f"--thresholds: {inst} min_gap_s must be in [0, 10) s, got {spec['min_gap_s']}")
        out[inst] = {k: float(v) for k, v in spec.items()}
    return out


def _features_from_meta(meta: dict) -> LogMel:
    cfg = meta.get("features") or meta.get("config", {}).get("features") or {}
    accepted = set(inspect.signature(LogMel.__init__).parameters) - {"self"}
    return LogMel(**{k: v for k, v in cfg.items() if k in accepted})


class Transcriber:
    """A loaded model plus everything needed to turn one audio file into onsets.

    Args:
        model: a :class:`drumtx.models.transcriber.DrumTranscriber` (from :func:`drumtx.checkpoint.load_transcriber`).
        meta: its bundle meta (features, thresholds, config).
        device: where the model runs (features are computed on the CPU, like the feature cache's).
        thresholds: peak-picking overrides, instrument -> {threshold, min_gap_s}, over the
            checkpoint's tuned ones and :data:`drumtx.decode.DEFAULT_THRESHOLDS`.
        settings: how the model runs over a file (:class:`drumtx.inference.InferenceSettings`);
            None: ``conf/inference/default.yaml``.
        chunk_seconds, context_seconds: shorthands that override those two settings.

    Raises:
        ValueError: impossible settings (one line).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        meta: dict,
        device: str = "cpu",
        thresholds: dict[str, dict[str, float]] | None = None,
        chunk_seconds: float | None = None,
        context_seconds: float | None = None,
        settings: InferenceSettings | None = None,
    ):
        overrides = {
            k: v
            for k, v in (("chunk_seconds", chunk_seconds), ("context_seconds", context_seconds))
            if v is not None
        }
        base = settings.to_dict() if settings is not None else None
        self.settings = InferenceSettings.from_config(base, **overrides)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.meta = meta
        self.features = _features_from_meta(meta)
        self.vocab: Vocabulary = model.vocab
        self.fps = self.features.fps
        # Checkpoint-tuned thresholds (meta['thresholds']) over the defaults, then the user's overrides.
        merged = {k: dict(v) for k, v in DEFAULT_THRESHOLDS.items()}
        for source in (meta.get("thresholds") or {}, thresholds or {}):
            for inst, spec in source.items():
                merged.setdefault(inst, {}).update({k: float(v) for k, v in spec.items()})
        self.thresholds = merged

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", **kwargs) -> Transcriber:
        from drumtx.checkpoint import load_transcriber

        model, meta = load_transcriber(path, device=device)
        return cls(model, meta, device=device, **kwargs)

    def run(self, mel, fine: bool = False, progress: str | None = None) -> Activations:
        """:func:`drumtx.inference.activations` of a log-mel with this model and settings: what
        transcribe, evaluate and threshold tuning all call."""
        return activations(
            self.model, self.features, mel, self.settings, device=self.device, fine=fine, progress=progress
        )

    def activations(
        self, path: Path, progress: bool = False
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Stitched per-frame probabilities and onset strength of a whole audio file.

        The file's log-mel is streamed to a temporary file (:func:`file_mel`, the same array the
        feature cache would hold), then run through :meth:`run` block by block.

        Args:
            path: an audio file (any rate and channel count).
            progress: a progress bar over the model's blocks (only on a terminal).

        Returns:
            ``(instrument -> (activation (T,), variation (T, V)), onset envelope (T,))``, float32,
            ``T = samples at the feature rate // hop + 1``.

        Raises:
            InputError: the file cannot be decoded (one line naming it).
        """
        path = Path(path)
        with file_mel(path, self.features) as mel:
            label = path.name if progress and sys.stderr.isatty() else None
            result = self.run(mel, fine=False, progress=label)
            env = spooled_onset_envelope(mel)
        return result.probs, env

    def transcribe(self, path: str | Path, progress: bool = False) -> Transcription:
        path = Path(path)
        probs, env = self.activations(path, progress)
        return self.decode(path, probs, env)

    def decode(
        self, source: Path, probs: dict[str, tuple[np.ndarray, np.ndarray]], onset_envelope: np.ndarray
    ) -> Transcription:
        """Stitched activations -> onsets (peak picking per instrument, variation at the peak)
        and beats; separate from the model so that it can be checked on hand-made activations."""
        onsets = decode_onsets(probs, self.fps, self.vocab, self.thresholds)
        confidences = onset_confidences(probs, onsets, self.fps, self.vocab)
        duration = (onset_envelope.shape[0] - 1) / self.fps
        beats = estimate_beats(onset_envelope, self.fps)
        return Transcription(Path(source), duration, onsets, confidences, beats, probs, onset_envelope)


# ----------------------------------------------------------------------------- writers


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


def with_measured_velocities(result: Transcription) -> Transcription:
    """``result`` with every onset's velocity measured from its audio
    (:func:`drumtx.dynamics.onset_velocities`, the one supplier of per-onset velocity).

    Where the audio cannot be read a second time (formats only the audioread fallback
    decodes), every onset gets the normal velocity: flat, so charts keep dynamics off.
    """
    from drumtx.dynamics import NORMAL_VELOCITY, onset_velocities

    try:
        velocities = onset_velocities(result.source, result.onsets)
    except AudioError as exc:
        print(
            f"{PROG}: note: {result.source}: velocities not measured ({_one_line(exc)}); all {NORMAL_VELOCITY}",
            file=sys.stderr,
        )
        velocities = [NORMAL_VELOCITY] * len(result.onsets)
    onsets = [dataclasses.replace(o, velocity=int(v)) for o, v in zip(result.onsets, velocities, strict=True)]
    return dataclasses.replace(result, onsets=onsets)


def write_outputs(
    result: Transcription,
    paths: dict[str, Path],
    transcriber: Transcriber,
    info: SongInfo | None = None,
    chart_audio: bool = True,
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

    Returns:
        The paths written (the chart as its folder).

    Raises:
        OSError, ValueError: an output cannot be written (nothing is left of this set).
    """
    from drumtx.chart import SongInfo, copy_song_audio, write_chart

    info = info or SongInfo(result.source.stem)
    rows = onset_rows(result, transcriber.vocab)
    parents = {p.parent for p in paths.values()}
    if len(parents) != 1:
        raise ValueError(f"outputs of one input must share a folder, got {sorted(map(str, parents))}")
    parent = parents.pop()
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".drumtx-", dir=parent))
    moves: list[tuple[Path, Path]] = []  # (staged file, final path)
    try:
        if "midi" in paths:
            staged = stage / "out.mid"
            drum_midi(result.onsets, result.tempo_map(MIDI_RESOLUTION), name=info.name).save(str(staged))
            moves.append((staged, paths["midi"]))
        if "chart" in paths:
            chart = stage / "chart"
            tempo = result.tempo_map(CHART_RESOLUTION)
            write_chart(chart, result.onsets, tempo, result.duration, info)
            if chart_audio:
                try:
                    copy_song_audio(result.source, chart)
                except Exception as exc:  # soundfile cannot transcode every input (m4a): the chart stands
                    print(
                        f"{PROG}: note: {result.source}: chart audio not added ({_one_line(exc)}); "
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
                "duration": round(result.duration, 3),
                "fps": transcriber.fps,
                "tempo_bpm": round(tempo.mean_bpm(), 2),
                "beats": [round(float(b), 4) for b in result.beats],
                "velocity_source": "measured loudness (drumtx.dynamics)",
                "thresholds": transcriber.thresholds,
                "drumtx_version": drumtx.__version__,
                "onsets": rows,
            }
            staged.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
            moves.append((staged, paths["json"]))
        _move_into_place(moves, stage)
    finally:
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


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROG}",
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
            "tom. Existing outputs are never replaced without --overwrite. Exit status: 0 all done, 1 some input "
            "failed (each named on stderr, the others still transcribed), 2 setup error (model, options)."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files or folders")
    parser.add_argument("-o", "--out-dir", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--ckpt",
        type=Path,
        default=None,
        help="model: a drumtx bundle (.safetensors + .json sidecar) or a Lightning .ckpt; default: the packaged "
        "model drumtx/assets/default_model.safetensors (+ .json)",
    )
    parser.add_argument(
        "--format",
        default="midi",
        help=f"comma-separated output formats, any of {','.join(FORMATS)} (default: midi)",
    )
    parser.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="where the model runs (default: cpu)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (else such inputs fail)"
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
        "--title",
        default=None,
        help="song name for the chart's song.ini and the MIDI track name (default: each input's file stem)",
    )
    parser.add_argument(
        "--artist", default="Unknown Artist", help="artist for the chart's song.ini (default: Unknown Artist)"
    )
    parser.add_argument("--album", default="", help="album for the chart's song.ini (default: empty)")
    parser.add_argument("--genre", default="", help="genre for the chart's song.ini (default: empty)")
    parser.add_argument(
        "--charter", default="drumtx", help="charter for the chart's song.ini (default: drumtx)"
    )
    parser.add_argument(
        "--no-chart-audio",
        dest="chart_audio",
        action="store_false",
        help="do not put the audio into chart folders",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice; 1 is often fastest for the LSTM on a busy machine)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-file lines")
    add_version(parser)
    return parser


def _db_or_off(text: str) -> float | None:
    """A level in dB, or ``off`` (None)."""
    if text.strip().lower() in ("off", "none", "null"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of dB or 'off', got {text!r}") from None


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        _error(f"--format: unknown format(s) {bad or args.format!r}; choose from {','.join(FORMATS)}")
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        _error("--device cuda: no CUDA device is available; use --device cpu")
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    ckpt = args.ckpt
    if ckpt is None:
        if not DEFAULT_CKPT.is_file() or not DEFAULT_CKPT.with_suffix(".json").is_file():
            _error(
                f"no packaged default model yet ({DEFAULT_CKPT} is missing); pass --ckpt PATH to a trained model"
            )
            return 2
        ckpt = DEFAULT_CKPT
    if not ckpt.is_file():
        _error(f"--ckpt {ckpt}: no such file")
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
            settings=InferenceSettings.from_config(
                chunk_seconds=args.chunk_seconds,
                context_seconds=args.context_seconds,
                gate_db=args.gate_db,
            ),
        )
        if hasattr(args, "level_db"):  # levelling is part of the model's features; the CLI overrides it
            transcriber.features.level_db = args.level_db
    except ValueError as exc:
        _error(str(exc))
        return 2

    jobs, errors = collect_inputs(args.inputs, args.out_dir)
    for message in errors:
        _error(message)
    failed, done = len(errors), 0
    for job in jobs:
        paths = output_paths(args.out_dir, job.rel, formats)
        existing = _existing(paths)
        if existing and not args.overwrite:
            _error(f"{job.source}: output {existing[0]} exists; pass --overwrite to replace it")
            failed += 1
            continue
        too_long = _name_too_long(paths)
        if too_long:
            _error(f"{job.source}: {too_long}")
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
            result = with_measured_velocities(transcriber.transcribe(job.source, progress=not args.quiet))
            written = write_outputs(result, paths, transcriber, info=info, chart_audio=args.chart_audio)
        except InputError as exc:
            _error(str(exc))
            failed += 1
            continue
        except (OSError, ValueError, RuntimeError) as exc:
            _error(f"{job.source}: {_one_line(exc)}")
            failed += 1
            continue
        done += 1
        if not args.quiet:
            counts = ", ".join(f"{k} {v}" for k, v in _class_counts(result.onsets, transcriber.vocab).items())
            print(
                f"{job.source} -> {', '.join(str(p) for p in written)} "
                f"({len(result.onsets)} onsets{': ' + counts if counts else ''}; "
                f"~{result.tempo_map(MIDI_RESOLUTION).mean_bpm():.0f} bpm, {result.duration:.1f} s)",
                flush=True,
            )
    if failed:
        _error(f"{failed} input(s) failed, {done} transcribed")
        return 1
    return 0


def _class_counts(onsets: Sequence[Onset], vocab: Vocabulary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in onsets:
        inst = vocab.instrument_of(o.fine_class)
        counts[inst] = counts.get(inst, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
