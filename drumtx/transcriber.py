"""The transcription library: an audio file in, onsets, confidences and beats out.

:class:`Transcriber` holds a loaded model with its features, inference settings and peak-picking
thresholds; :meth:`Transcriber.transcribe` streams a file's log-mel (:func:`file_mel`, the
array the feature cache would hold), runs the model through :func:`drumtx.inference.activations`
(the one inference path, shared with evaluation and threshold tuning), picks peaks and tracks
beats. Writing the results is :mod:`drumtx.outputs`; the command is :mod:`drumtx.transcribe`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from drumtx.audio import AUDIO_EXTENSIONS, AudioError, special_file_kind
from drumtx.checkpoint import PACKAGED_MODEL
from drumtx.decode import DEFAULT_THRESHOLDS, decode_onsets, onset_confidences, peak_picking_setting
from drumtx.errors import exception_line
from drumtx.features import LogMel, features_from_meta
from drumtx.inference import Activations, InferenceSettings, activations
from drumtx.midi_out import TempoMap
from drumtx.targets import Onset
from drumtx.tempo import MAP_TOLERANCE_S, beat_envelope, estimate_beats
from drumtx.vocab import Vocabulary

#: Prefix of the notes printed on stderr for the user (velocities not measured, chart audio not added).
PROG = "drumtx.transcribe"
DEFAULT_CKPT = PACKAGED_MODEL
#: Suffixes picked up when a folder is given. m4a/aac need an audioread backend (ffmpeg).
INPUT_SUFFIXES = tuple(sorted({*AUDIO_EXTENSIONS, ".aif", ".aiff", ".aifc", ".m4a", ".aac"}))
#: Formats soundfile cannot decode; tried through librosa/audioread (whole file in memory).
FALLBACK_SUFFIXES = (".m4a", ".aac", ".mp4", ".wma")


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
    files found in folders are filtered by suffix, and anything under ``out_dir`` is skipped,
    and so is the ``song.<ext>`` of any chart folder drumtx wrote elsewhere
    (:func:`drumtx.chart.is_drumtx_chart`): a previous run's chart audio must not be
    transcribed again.
    """
    from drumtx.chart import is_drumtx_chart

    jobs, errors, seen, names = [], [], set(), {}
    out_resolved = out_dir.resolve() if out_dir is not None else None
    for raw in paths:
        p = Path(raw)
        try:
            is_dir = p.is_dir()
        except OSError as exc:  # a name over the file system's limit (ENAMETOOLONG), a loop of links
            errors.append(f"{p}: {exc.strerror or exception_line(exc)}")
            continue
        if is_dir:
            listed = [f for f in p.rglob("*") if f.suffix.lower() in INPUT_SUFFIXES and not f.name.startswith(".")]
            found = sorted(f for f in listed if f.is_file())
            # a link to audio that is gone, or a FIFO, device or socket with an audio name, is named,
            # not skipped without a word: the user put it there
            for f in sorted(listed):
                if f.is_symlink() and not f.exists():
                    errors.append(f"{f}: broken symbolic link (its target {os.readlink(f)} does not exist)")
                elif kind := special_file_kind(f):
                    errors.append(f"{f}: is a {kind}, not a regular audio file")
            if out_resolved is not None:
                found = [f for f in found if out_resolved not in f.resolve().parents]
            found = [f for f in found if not (f.stem == "song" and is_drumtx_chart(f.parent))]
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
    kind = special_file_kind(path)
    if kind:  # /dev/zero has size 0 and a FIFO would block: neither is an audio file
        raise InputError(f"{path}: is a {kind}, not a regular audio file")
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
            f"{path}: cannot decode {path.suffix} (soundfile cannot read it; audioread: {exception_line(exc)}){hint}"
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


#: Where onset velocities come from, as the JSON output states it (``velocity_source``).
VELOCITY_FROM_PEAKS = "peak confidence (drumtx.decode), not loudness"
VELOCITY_FROM_MODEL = "the model's velocity output (drumtx.dynamics)"
VELOCITY_MEASURED = "measured loudness (drumtx.dynamics)"
VELOCITY_FLAT = "none: the audio could not be read again, every onset the normal velocity"


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
    # the velocity head's output (T, C) (velocity / 127, columns fine_classes, fps frames per
    # second); None for a model without one
    velocity: np.ndarray | None = field(default=None, repr=False)
    fps: float | None = None
    fine_classes: tuple[str, ...] = ()
    velocity_source: str = VELOCITY_FROM_PEAKS  # what the onsets' velocities are (see with_measured_velocities)
    truncated: str | None = None  # why only the first part of the file was transcribed (a cut-off file)

    def tempo_map(self, resolution: int) -> TempoMap:
        """The MIDI and chart tempo map at ``resolution`` ticks per beat: the tracked beats, one
        tempo per steady stretch (``tempo.map_tolerance_ms`` of ``conf/outputs/default.yaml``)."""
        return TempoMap.from_beats(self.beats, resolution, steady_s=MAP_TOLERANCE_S)


def parse_thresholds(text: str | None, instruments: Sequence[str]) -> dict[str, dict[str, float]]:
    """``--thresholds``: JSON text or a JSON file; instrument -> threshold or {threshold, min_gap_s}."""
    if not text:
        return {}
    source = Path(text)
    if source.suffix == ".json" and not source.is_file() and not text.lstrip().startswith("{"):
        raise ValueError(f"--thresholds: no such file: {text}")
    try:
        raw = json.loads(source.read_text() if source.suffix == ".json" and source.is_file() else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"--thresholds is neither JSON nor a readable .json file ({exception_line(exc)})"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(
            "--thresholds must be a JSON object: instrument -> threshold or {threshold, min_gap_s}"
        )
    out = {}
    for inst, value in raw.items():
        if inst not in instruments:
            raise ValueError(f"--thresholds: unknown instrument {inst!r}; this model has {list(instruments)}")
        out[inst] = peak_picking_setting(value, f"--thresholds: {inst}")
    return out


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
        self.settings = InferenceSettings.from_config(base, **overrides).for_model(meta)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.meta = meta
        self.features = features_from_meta(meta)
        self.vocab: Vocabulary = model.vocab
        self.fps = self.features.fps
        # Checkpoint-tuned thresholds (meta['thresholds']) over the defaults, then the user's
        # overrides; only the model's own instruments (the JSON output lists these).
        merged = {k: dict(v) for k, v in DEFAULT_THRESHOLDS.items() if k in self.vocab.instruments}
        for source in (meta.get("thresholds") or {}, thresholds or {}):
            for inst, spec in source.items():
                merged.setdefault(inst, {}).update({k: float(v) for k, v in spec.items()})
        self.thresholds = merged

    @classmethod
    def from_checkpoint(cls, path: str | Path = "default", device: str = "cpu", **kwargs) -> Transcriber:
        """Load a model file (:func:`drumtx.checkpoint.load_transcriber`) and wrap it.

        Args:
            path: ``"default"`` (the packaged model, :data:`drumtx.checkpoint.PACKAGED_MODEL`), a
                drumtx bundle (``.safetensors`` beside its ``.json`` meta) or a drumtx
                Lightning ``.ckpt``; tuned thresholds in ``<stem>.thresholds.json`` beside it are
                applied over the ones its meta holds.
            device: where the model runs (``cpu``, ``cuda``, ``cuda:1``, ``auto``).
            **kwargs: the other arguments of :class:`Transcriber` (``thresholds``, ``settings``,
                ``chunk_seconds``, ``context_seconds``).

        Returns:
            the Transcriber, its model in eval mode on ``device``.

        Raises:
            drumtx.checkpoint.CheckpointError: no such file, a file that is not a drumtx model, a
                missing or unreadable meta or thresholds file, or weights that do not fit the stored
                config (one line naming the file).
            ValueError: impossible inference settings in ``kwargs``, or a ``device`` this machine
                lacks (one line, :func:`drumtx.inference.resolve_device`).
        """
        from drumtx.checkpoint import load_transcriber, model_path
        from drumtx.inference import resolve_device

        try:
            device = str(resolve_device(device))  # "auto" too
        except ValueError as e:
            raise ValueError(f"device={device!r}: {e}") from None
        model, meta = load_transcriber(model_path(path), device=device)
        return cls(model, meta, device=device, **kwargs)

    def run(self, mel, fine: bool = False, progress: str | None = None) -> Activations:
        """:func:`drumtx.inference.activations` of a log-mel with this model and settings: what
        transcribe, evaluate and threshold tuning all call.

        Args:
            mel: the levelled log-mel of one track, (n_mels, T) at :attr:`fps` frames per second:
                the feature cache's float16 array or :func:`file_mel`'s spooled one (anything with
                ``shape`` and ``[:, lo:hi]`` slicing; other dtypes are rounded to float16 first).
            fine: also return the fine-class probabilities (T, C).
            progress: a tqdm label for a progress bar over the model's blocks; None: no bar.

        Returns:
            :class:`drumtx.inference.Activations` with T frames: ``probs`` instrument ->
            (activation (T,), variation (T, V)), ``fine`` (T, C) or None, ``velocity`` (T, C)
            (MIDI velocity / 127) for a model with a velocity head, else None; float32, silence-gated.

        Raises:
            ValueError: an empty log-mel (0 frames).
        """
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
        result, env = self.file_activations(path, progress)
        return result.probs, env

    def file_activations(self, path: Path, progress: bool = False) -> tuple[Activations, np.ndarray]:
        """:meth:`activations` with the whole :class:`drumtx.inference.Activations` (its
        ``velocity`` (T, C) too, for a model with a velocity head) and the onset envelope (T,).

        Raises:
            InputError: the file cannot be decoded (one line naming it).
        """
        path = Path(path)
        with file_mel(path, self.features) as mel:
            label = path.name if progress and sys.stderr.isatty() else None
            result = self.run(mel, fine=False, progress=label)
            env = spooled_onset_envelope(mel)
            if mel.truncated:
                result = dataclasses.replace(result, truncated=mel.truncated)
        return result, env

    def transcribe(self, path: str | Path, progress: bool = False) -> Transcription:
        """Onsets, their velocities and confidences, and the beats of one audio file
        (:meth:`file_activations`, :meth:`decode`, then :func:`with_measured_velocities`): what
        ``python -m drumtx.transcribe`` writes out, note for note and velocity for velocity.

        Args:
            path: an audio file, any rate and channel count (formats soundfile reads; m4a and aac
                through audioread, which needs ffmpeg).
            progress: a progress bar over the model's blocks (shown only when stderr is a terminal).

        Returns:
            a :class:`Transcription`: ``onsets`` sorted by time (s) with their fine class and MIDI
            velocity (1-127: the model's velocity output at the onset, or for a model without
            one the loudness measured from the audio; ``velocity_source`` says which),
            ``confidences`` (per onset, activation x variation probability, 0..1), ``beats`` (s),
            ``duration`` (s), and the stitched activations, onset envelope and velocity output
            (T frames at ``fps``). A file whose decoding fails partway (a cut-off download) is
            transcribed up to there, with the reason in ``truncated``.

        Raises:
            InputError: the file is missing, a folder, empty, or cannot be decoded, or its audio is
                zero-length or not finite (one line naming it; the decoder's
                :class:`drumtx.audio.AudioError` arrives as this).
        """
        path = Path(path)
        result, env = self.file_activations(path, progress)
        out = with_measured_velocities(self.decode(path, result.probs, env, velocity=result.velocity))
        return dataclasses.replace(out, truncated=result.truncated) if result.truncated else out

    def decode(
        self,
        source: Path,
        probs: dict[str, tuple[np.ndarray, np.ndarray]],
        onset_envelope: np.ndarray,
        velocity: np.ndarray | None = None,
    ) -> Transcription:
        """Stitched activations -> onsets (peak picking per instrument, variation at the peak)
        and beats; separate from the model so that it can be checked on hand-made activations.
        The onsets' velocities are the peaks' heights until :func:`with_measured_velocities`
        (which :meth:`transcribe` applies) replaces them; ``velocity`` (T, C), the velocity
        head's output, is kept for it."""
        onsets = decode_onsets(probs, self.fps, self.vocab, self.thresholds)
        confidences = onset_confidences(probs, onsets, self.fps, self.vocab)
        duration = (onset_envelope.shape[0] - 1) / self.fps
        beats = estimate_beats(beat_envelope(onset_envelope, [a for a, _ in probs.values()]), self.fps)
        return Transcription(
            Path(source), duration, onsets, confidences, beats, probs, onset_envelope,
            velocity=velocity, fps=float(self.fps), fine_classes=tuple(self.vocab.fine_classes),
        )


def with_measured_velocities(result: Transcription) -> Transcription:
    """``result`` with every onset's velocity from :func:`drumtx.dynamics.onset_velocities` (the
    one supplier of per-onset velocity): the model's velocity output at the onset when the model
    has one (``result.velocity``), else measured from the audio. ``velocity_source`` says which.

    Where the audio cannot be read a second time (formats only the audioread fallback
    decodes) and the model has no velocity output, every onset gets the normal velocity:
    flat, so charts keep dynamics off.
    """
    from drumtx.dynamics import NORMAL_VELOCITY, onset_velocities

    if result.velocity is not None:
        velocities = onset_velocities(
            result.source, result.onsets, velocity=result.velocity, fps=result.fps, fine_classes=result.fine_classes
        )
        source = VELOCITY_FROM_MODEL
    else:
        try:
            velocities = onset_velocities(result.source, result.onsets)
            source = VELOCITY_MEASURED
        except AudioError as exc:
            print(
                f"{PROG}: note: {result.source}: velocities not measured ({exception_line(exc)}); all {NORMAL_VELOCITY}",
                file=sys.stderr,
            )
            velocities = [NORMAL_VELOCITY] * len(result.onsets)
            source = VELOCITY_FLAT
    onsets = [dataclasses.replace(o, velocity=int(v)) for o, v in zip(result.onsets, velocities, strict=True)]
    return dataclasses.replace(result, onsets=onsets, velocity_source=source)
