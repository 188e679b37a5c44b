"""The transcription library: an audio file in, onsets, confidences and beats out.

:class:`Transcriber` holds a loaded model with its features, inference settings and peak-picking
thresholds; :meth:`Transcriber.transcribe` streams a file's log-mel (:func:`file_mel`, the
array the feature cache would hold), runs the model through :func:`drumtx.inference.activations`
(the one inference path, shared with evaluation and threshold tuning), picks peaks and tracks
beats. Writing the results is :mod:`drumtx.outputs`; the command is :mod:`drumtx.transcribe`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from drumtx.audio import AUDIO_EXTENSIONS, AudioError, special_file_kind
from drumtx.checkpoint import PACKAGED_MODEL, sha256_prefix
from drumtx.decode import DEFAULT_THRESHOLDS, decode_onsets, onset_confidences, peak_picking_setting
from drumtx.errors import exception_line
from drumtx.features import LogMel, features_from_meta
from drumtx.inference import Activations, InferenceSettings, activations
from drumtx.midi_out import TempoMap
from drumtx.targets import Onset
from drumtx.tempo import MAP_TOLERANCE_S, beat_envelope, first_downbeat, track_beats
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


def file_mel(path: Path, features: LogMel, progress: Callable[[float], None] | None = None):
    """The float16 log-mel of one input as :func:`drumtx.inference.file_mel` streams it (the
    array the feature cache would hold for it), spooled to a temporary file.

    Adds what the batch needs on top: a clear reason for missing and empty files, and an
    audioread fallback for containers soundfile cannot read (m4a, aac), which decodes the
    whole file at once (memory then grows with length, unlike every other format).

    ``progress``: called with the share done (0-1) as the blocks are made (streamed files only).

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
        return stream_mel(path, features, progress=progress)
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


class FileProgress:
    """One progress bar for one file's whole transcription, on stderr: its stage as the postfix
    (features, model, peaks and beats, writing) and the share done.

    The stages' shares of the bar are what they took of a 20-minute file with the packaged model
    on the 2-core VM (a new user's timing, 2026-12-07: 5.3 s decoding and features, 8.1 s model,
    5.3 s peak picking, beat tracking and writing): before, the bar covered the model alone and
    more than half the run showed nothing. Within the first two stages it moves by frames and
    blocks done; the last two move when they start.

    Args:
        label: what the bar is named after (the file's name).
        enabled: False: every call is a no-op (``-q``, or stderr not a terminal).
    """

    STAGES = {"features": (0.0, 28.0), "model": (28.0, 71.0), "peaks and beats": (71.0, 90.0), "writing": (90.0, 100.0)}

    def __init__(self, label: str, enabled: bool = True):
        self._bar = None
        self._label = label
        self._stage: str | None = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc=label, leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def stage(self, name: str, done: float = 0.0) -> None:
        """Now in stage ``name`` (a key of :attr:`STAGES`), ``done`` (0-1) of it."""
        if self._bar is None:
            return
        lo, hi = self.STAGES[name]
        target = round(lo + (hi - lo) * min(max(done, 0.0), 1.0), 1)
        if name != self._stage:  # a new stage is drawn at once; within one, tqdm's pace (mininterval)
            self._stage = name
            self._bar.set_description_str(f"{self._label} ({name})", refresh=False)
            self._bar.n = target
            self._bar.refresh()
        elif target > self._bar.n:
            self._bar.update(target - self._bar.n)

    @classmethod
    @contextlib.contextmanager
    def given(cls, progress: bool | FileProgress, label: str) -> Iterator[FileProgress]:
        """The caller's bar (left open for its later stages), or for ``progress`` True / False a
        bar of its own (shown only when stderr is a terminal), closed on leaving."""
        if isinstance(progress, FileProgress):
            yield progress
            return
        with cls(label, enabled=bool(progress) and sys.stderr.isatty()) as bar:
            yield bar

    def reporter(self, name: str) -> Callable[[float], None] | None:
        """A function of the share done that moves the bar through stage ``name`` (None when off)."""
        if self._bar is None:
            return None
        return lambda done: self.stage(name, done)

    def write(self, line: str) -> None:
        """Print ``line`` to stderr above the bar (a plain print would break it)."""
        if self._bar is None:
            print(line, file=sys.stderr, flush=True)
        else:
            self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> FileProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    silent_share: float = 0.0  # share of frames the silence gate shut (inference.Activations)
    drumless_share: float = 0.0  # share of the other frames the drum presence gate shut
    # the tempo given (--bpm; None: not given), and the steady grid's tempo where the beats are
    # one steady grid (drumtx.tempo.track_beats), else None: the beats as tracked
    bpm_given: float | None = None
    steady_bpm: float | None = None

    def tempo_map(self, resolution: int) -> TempoMap:
        """The MIDI and chart tempo map at ``resolution`` ticks per beat: the tracked beats, one
        tempo per steady stretch (``tempo.map_tolerance_ms`` of ``conf/outputs/default.yaml``),
        4/4 bars from the first kick or crash on a beat (:func:`drumtx.tempo.first_downbeat`)."""
        return TempoMap.from_beats(self.beats, resolution, steady_s=MAP_TOLERANCE_S,
                                   downbeat=first_downbeat(self.onsets, self.beats))


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
        model_file: the file ``model`` and ``meta`` were loaded from, for :attr:`model_identity`.

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
        model_file: str | Path | None = None,
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
        self.model_file = None if model_file is None else Path(model_file)  # what it was loaded from
        self._model_sha256: str | None = None
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
        file = model_path(path)
        model, meta = load_transcriber(file, device=device)
        return cls(model, meta, device=device, model_file=file, **kwargs)

    @property
    def model_identity(self) -> dict[str, str | None]:
        """Which model made an output (the ``model`` entry of transcribe's JSON): ``name`` (the
        packaged model's, e.g. ``v2.1``, from ``package_model --name``; else None), ``file`` (the
        weights' file name; None for a model not loaded from a file) and ``sha256`` (the first 16
        hex digits of that file's SHA-256: two outputs with the same one came from the same
        weights)."""
        if self.model_file is not None and self._model_sha256 is None:
            self._model_sha256 = sha256_prefix(self.model_file, 16)
        return {
            "name": self.meta.get("model_name"),
            "file": None if self.model_file is None else self.model_file.name,
            "sha256": self._model_sha256,
        }

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

    def file_activations(
        self, path: Path, progress: bool | FileProgress = False
    ) -> tuple[Activations, np.ndarray]:
        """:meth:`activations` with the whole :class:`drumtx.inference.Activations` (its
        ``velocity`` (T, C) too, for a model with a velocity head) and the onset envelope (T,).

        ``progress``: True for a bar over the features and the model's blocks (on a terminal), or
        a caller's :class:`FileProgress` to move through its first two stages.

        Raises:
            InputError: the file cannot be decoded (one line naming it).
        """
        path = Path(path)
        with FileProgress.given(progress, path.name) as bar:
            bar.stage("features")
            with file_mel(path, self.features, progress=bar.reporter("features")) as mel:
                bar.stage("model")
                result = self.run(mel, fine=False, progress=bar.reporter("model"))
                env = spooled_onset_envelope(mel)
                if mel.truncated:
                    result = dataclasses.replace(result, truncated=mel.truncated)
        return result, env

    def transcribe(self, path: str | Path, progress: bool | FileProgress = False,
                   bpm: float | None = None) -> Transcription:
        """Onsets, their velocities and confidences, and the beats of one audio file
        (:meth:`file_activations`, :meth:`decode`, then :func:`with_measured_velocities`): what
        ``python -m drumtx.transcribe`` writes out, note for note and velocity for velocity.

        Args:
            path: an audio file, any rate and channel count (formats soundfile reads; m4a and aac
                through audioread, which needs ffmpeg).
            progress: a progress bar over the whole file, True (shown only when stderr is a
                terminal), or a caller's :class:`FileProgress` (left open for its writing stage).
            bpm: the song's tempo where known (beats per minute; ``--bpm``): the beats are tracked
                at it, and are one steady grid of it where they keep to one (``steady_bpm``), so the
                tempo map holds that tempo; None: the tempo is estimated (and the beats are one
                steady grid where they keep to one, ``tempo.steady_grid``).

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
        with FileProgress.given(progress, path.name) as bar:
            result, env = self.file_activations(path, bar)
            bar.stage("peaks and beats")
            out = with_measured_velocities(self.decode(path, result.probs, env, velocity=result.velocity, bpm=bpm))
        return dataclasses.replace(out, truncated=result.truncated, silent_share=result.silent_share,
                                   drumless_share=result.drumless_share)

    def decode(
        self,
        source: Path,
        probs: dict[str, tuple[np.ndarray, np.ndarray]],
        onset_envelope: np.ndarray,
        velocity: np.ndarray | None = None,
        bpm: float | None = None,
    ) -> Transcription:
        """Stitched activations -> onsets (peak picking per instrument, variation at the peak)
        and beats; separate from the model so that it can be checked on hand-made activations.
        The onsets' velocities are the peaks' heights until :func:`with_measured_velocities`
        (which :meth:`transcribe` applies) replaces them; ``velocity`` (T, C), the velocity
        head's output, is kept for it. ``bpm``: the song's tempo where known (see :meth:`transcribe`)."""
        onsets = decode_onsets(probs, self.fps, self.vocab, self.thresholds)
        confidences = onset_confidences(probs, onsets, self.fps, self.vocab)
        duration = (onset_envelope.shape[0] - 1) / self.fps
        span = (onsets[0].time, onsets[-1].time) if onsets else None  # (sorted by time)
        beats, steady_bpm = track_beats(beat_envelope(onset_envelope, [a for a, _ in probs.values()]), self.fps, bpm,
                                        span=span)
        return Transcription(
            Path(source), duration, onsets, confidences, beats, probs, onset_envelope,
            velocity=velocity, fps=float(self.fps), fine_classes=tuple(self.vocab.fine_classes),
            bpm_given=bpm, steady_bpm=steady_bpm,
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
            from drumtx.cli import prog_name

            print(
                f"{prog_name(PROG)}: note: {result.source}: velocities not measured ({exception_line(exc)}); all {NORMAL_VELOCITY}",
                file=sys.stderr,
            )
            velocities = [NORMAL_VELOCITY] * len(result.onsets)
            source = VELOCITY_FLAT
    onsets = [dataclasses.replace(o, velocity=int(v)) for o, v in zip(result.onsets, velocities, strict=True)]
    return dataclasses.replace(result, onsets=onsets, velocity_source=source)
