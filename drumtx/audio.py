"""Audio decoding: any rate, mono or stereo, to float32 mono at the feature sample rate.

soundfile decodes (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1), torchaudio resamples.
Every failure is an :class:`AudioError` whose message is one line naming the file and the
reason, so batch jobs (prepare, transcribe) can report it and go on.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from drumtx.errors import exception_line

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".opus")


class AudioError(ValueError):
    """A file that cannot serve as audio input (missing, unreadable, empty, non-finite)."""


class PartlyDecodable(AudioError):
    """Decoding failed partway through a file (a cut-off FLAC, Ogg or MP3 download): its first
    ``frames`` samples (at the file's own rate ``sample_rate``) decode, the rest of the
    ``total_frames`` its header promises do not. The message is one line naming the file."""

    def __init__(self, path, frames: int, total_frames: int, sample_rate: int, reason: str):
        self.frames, self.total_frames, self.sample_rate = int(frames), int(total_frames), int(sample_rate)
        self.reason = reason
        super().__init__(
            f"{path}: undecodable audio after {frames / sample_rate:.2f} s of {total_frames / sample_rate:.2f} s ({reason})"
        )

    @property
    def note(self) -> str:
        """``"only 9.9 s of its 20.0 s decode (<reason>)"``, for a note beside what was transcribed."""
        return (f"only {self.frames / self.sample_rate:.1f} s of its {self.total_frames / self.sample_rate:.1f} s "
                f"decode ({self.reason})")


def decodable_frames(f: sf.SoundFile, piece_seconds: float = 0.1) -> int:
    """How many samples of an open file decode from its start, reading ``piece_seconds`` at a
    time until the decoder fails or the file ends (a whole decode: only for a file that has
    already failed). Leaves the file positioned at its start."""
    piece = max(1, int(round(piece_seconds * f.samplerate)))
    n = 0
    try:
        f.seek(0)
        while n < f.frames:
            got = len(f.read(piece, dtype="float32", always_2d=True))
            if got == 0:
                break
            n += got
    except Exception:  # noqa: BLE001 - the decoder's error is the answer: n samples decoded
        pass
    with contextlib.suppress(Exception):  # a FLAC of a header alone fails even to seek back
        f.seek(0)
    return n


def special_file_kind(path: str | Path) -> str | None:
    """``"character device"``, ``"block device"``, ``"FIFO"`` or ``"socket"`` for such a path
    (links followed), None for a regular file, a folder or nothing: /dev/zero has size 0 and
    opening a FIFO blocks, so neither may reach the decoder."""
    import stat

    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    for test, name in (
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return None


def _open(path: str | Path) -> sf.SoundFile:
    path = Path(path)
    if not path.is_file():
        kind = special_file_kind(path)
        raise AudioError(f"{path}: is a {kind}, not a regular audio file" if kind else f"{path}: audio file missing")
    try:
        with _c_stderr_silenced():
            return sf.SoundFile(str(path))
    except Exception as exc:  # libsndfile raises LibsndfileError / RuntimeError / TypeError
        # LibsndfileError's str repeats the path; its error_string is the reason alone.
        reason = getattr(exc, "error_string", None) or exception_line(exc)
        if "not a regular file" in reason:  # libsndfile says so of any regular file it cannot identify
            reason = "not audio in a format libsndfile decodes: WAV, FLAC, Ogg/Opus, MP3, AIFF"
        raise AudioError(f"{path}: unreadable audio ({reason})") from None


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null for the duration (Python's own sys.stderr is flushed first).

    Why: libmpg123, inside libsndfile, prints "Note: Illegal Audio-MPEG-Header …" lines straight
    to descriptor 2 while it probes a file that is not MPEG audio (a new-user trial: six such
    lines before drumtx's one-line error for a text file named .mp3); neither soundfile nor
    libsndfile has a switch for it; seeking in a cut-off MP3 prints "Warning: Xing stream size
    off …" the same way. Only around opening a file and an MP3's seeks and reads, which print
    nothing else (the silencing holds for the whole process).
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no descriptor 2 or no sys.stderr: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the header only (no decoding)."""
    with _open(path) as f:
        if f.frames <= 0 or f.samplerate <= 0:
            raise AudioError(f"{path}: zero-length audio")
        return f.frames / f.samplerate


def resample(wave: np.ndarray, orig_sr: int, sample_rate: int) -> np.ndarray:
    """Band-limited resampling of a 1-D float32 signal (torchaudio's windowed sinc)."""
    if orig_sr == sample_rate:
        return wave.astype(np.float32, copy=False)
    g = math.gcd(int(orig_sr), int(sample_rate))
    out = AF.resample(
        torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), orig_sr // g, sample_rate // g
    )
    return out.numpy()


def resampled_length(n_samples: int, orig_sr: int, sample_rate: int) -> int:
    """The length :func:`resample` gives ``n_samples`` samples at ``orig_sr``: torchaudio's
    ``ceil(new * n / orig)`` (rates divided by their gcd), which torchaudio rounds to float32
    before the ceiling (``torch.as_tensor`` of a Python float), so a whole file can come out one
    sample shorter than the exact ceiling (529,856 samples at 44.1 kHz give 288,357 at 24 kHz,
    not 288,358), or past 2^24 samples longer. A file decoded in blocks resamples its last block
    to this length (:func:`resample_tail`), or its last frame would differ from the whole file's.
    """
    n = int(n_samples)
    if int(orig_sr) == int(sample_rate):
        return n
    g = math.gcd(int(orig_sr), int(sample_rate))
    return int(torch.ceil(torch.as_tensor(int(sample_rate) // g * n / (int(orig_sr) // g))).long())


def resample_tail(wave: np.ndarray, orig_sr: int, sample_rate: int, length: int) -> np.ndarray:
    """:func:`resample` of the last samples of a file, from an input sample where the
    resampler's phase restarts (a multiple of ``orig_sr / gcd``), as ``length`` output samples:
    what the whole file's resampling holds from there on (``length`` = the whole file's
    :func:`resampled_length` minus the output offset). Past 2^24 output samples torchaudio's
    float32 length can exceed the exact ceiling (33,554,438 samples at 48 kHz give 16,777,220 at
    24 kHz, not 16,777,219): those extra samples are the filter's response to the zeros after
    the end, so the tail is resampled with zeros appended, then cut to ``length``.

    Raises:
        ValueError: ``length`` is more than a whole extra input period beyond the tail.
    """
    if orig_sr == sample_rate:
        return resample(wave, orig_sr, sample_rate)[:length]
    g = math.gcd(int(orig_sr), int(sample_rate))
    period = int(orig_sr) // g
    padded = np.concatenate([np.asarray(wave, dtype=np.float32), np.zeros(2 * period, np.float32)])
    out = resample(padded, orig_sr, sample_rate)
    if out.shape[0] < length:
        raise ValueError(f"tail of {wave.shape[0]} samples cannot give {length} resampled samples")
    return out[:length]


#: libsndfile's header log line of a WAV's ``data`` / an AIFF's ``SSND`` chunk whose size in the
#: header differs from the bytes in the file: ``data : 3257344 (should be 149956)``.
_CHUNK_SIZE_LINE = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)")


#: Bytes per sample of libsndfile's PCM and float subtypes (a WAV or AIFF header's promise in seconds).
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def band_limit(path: str | Path, f_max: float) -> str | None:
    """Why a file's sample rate keeps part of what the model listens to from it, or None.

    A file sampled at ``sr`` holds nothing above ``sr / 2`` (Nyquist); the model's log-mel
    reaches ``f_max`` (11 kHz for the packaged model), and hi-hats and cymbals carry much of
    their energy up there. Measured with the packaged model on a 44.1 kHz loop of 16 kicks, 16
    snares and 64 hi-hats through five kits, resampled down (experiments/band_limit): 16 kHz kept
    half to three quarters of the hats, 11.025 kHz none, and the drum presence gate shut every
    frame of three kits there and of every kit at 8 kHz (without it, the kicks are still found).

    Args:
        path: an audio file soundfile reads (None for anything else: nothing to say).
        f_max: the model's highest mel frequency (Hz), ``LogMel.f_max``.

    Returns:
        One line, e.g. ``sampled at 16 kHz, so it holds nothing above 8 kHz, where the model
        listens up to 11 kHz: hi-hats and cymbals may be missed or taken for other drums``.
    """
    try:
        rate = float(sf.info(str(path)).samplerate)
    except Exception:  # (m4a through audioread, or not audio: other checks speak for it)
        return None
    if rate <= 0 or rate / 2 >= f_max:
        return None
    return (f"sampled at {rate / 1000:g} kHz, so it holds nothing above {rate / 2000:g} kHz, where the model "
            f"listens up to {f_max / 1000:g} kHz: hi-hats and cymbals may be missed or taken for other drums")


def truncation(path: str | Path, info: sf._SoundFileInfo | None = None) -> str | None:
    """Why ``path`` holds less audio than its header says (a cut-off download or copy), or None.

    libsndfile reads a truncated WAV or AIFF without an error, up to where the file ends; its
    header log (``soundfile.info(...).extra_info``) says how many bytes the header promised.
    A cut-off Ogg (Vorbis, Opus) reads without an error too, as a shorter file: its last page is
    cut off or lacks the end-of-stream flag (:func:`ogg_stream_ends`). Other formats: None (a
    truncated FLAC or MP3 fails to decode partway instead, :class:`PartlyDecodable`).

    Args:
        path: the audio file.
        info: its ``soundfile.info``, where the caller has read it already (read here otherwise).

    Returns:
        One line, e.g. ``truncated: its header promises 18.5 s of audio, the file holds 0.8 s``.
    """
    if info is None:
        try:
            if not Path(path).is_file():  # opening a FIFO would block; decoding says what it is
                return None
            with _c_stderr_silenced():  # libmpg123 prints a cut-off MP3's "Xing stream size off" warning
                info = sf.info(str(path))
        except Exception:  # unreadable: decoding says why
            return None
    for line in (info.extra_info or "").splitlines():
        m = _CHUNK_SIZE_LINE.match(line)
        if m and int(m[1]) > int(m[2]) > 0 and info.samplerate > 0:
            promised = info.duration * int(m[1]) / int(m[2])
            return f"truncated: its header promises {promised:.1f} s of audio, the file holds {info.duration:.1f} s"
        if m and int(m[1]) > int(m[2]) == 0 and info.samplerate > 0:  # a header alone
            width = _SAMPLE_BYTES.get(info.subtype)
            promised = f"{int(m[1]) / (width * info.channels * info.samplerate):.1f} s" if width else f"{m[1]} bytes"
            return f"truncated: its header promises {promised} of audio, the file holds none"
    if info.format == "OGG" and not ogg_stream_ends(path):
        return (f"truncated: its last Ogg page is cut off or does not end the stream, so audio is missing "
                f"after {info.duration:.1f} s")
    return None


#: The largest Ogg page: a 27-byte header, 255 lacing values, 255 segments of 255 bytes (RFC 3533).
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def ogg_stream_ends(path: str | Path) -> bool:
    """Whether an Ogg file's last page is whole and carries the end-of-stream flag (RFC 3533,
    header type 0x04), as every encoder writes it. A cut-off Ogg Vorbis or Opus download has
    neither, and libsndfile then reads it without an error as a shorter file (its length comes
    from the last granule position found): this is the only sign. Reads the file's last 64 KiB.

    Returns:
        False when the last page is cut off or lacks the flag, or no page is found there.
    """
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - _OGG_MAX_PAGE))
        tail = fh.read()
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:
        header = tail[at : at + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0
            lacing = tail[at + 27 : at + 27 + header[26]]
            whole = len(lacing) == header[26] and at + 27 + len(lacing) + sum(lacing) == len(tail)
            return whole and bool(header[5] & 0x04)
    return False


def _to_mono(data: np.ndarray) -> np.ndarray:
    """Channels ``(N, C)`` averaged to float32 ``(N,)`` (``data.mean(axis=1, dtype=float32)``)."""
    if data.ndim != 2:
        return data.astype(np.float32, copy=False)
    if data.shape[1] == 2:  # the same bits as the mean, ~4x faster than numpy's short-axis reduction
        out = np.add(data[:, 0], data[:, 1], dtype=np.float32)
        out /= np.float32(2)
        return out
    return data.mean(axis=1, dtype=np.float32)


def _check(path, wave: np.ndarray) -> np.ndarray:
    if wave.size == 0:
        raise AudioError(f"{path}: zero-length audio")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: audio holds non-finite samples (NaN or inf)")
    return wave


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """The whole file as float32 mono ``(N,)`` at ``sample_rate`` (channels averaged)."""
    with _open(path) as f:
        orig_sr = f.samplerate
        try:
            data = f.read(dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(f"{path}: unreadable audio ({exception_line(exc)})") from None
    wave = _check(path, _to_mono(data))
    return _check(path, resample(wave, orig_sr, sample_rate))


def iter_audio_blocks(
    path: str | Path, sample_rate: int, block_seconds: float = 60.0, overlap_seconds: float = 2.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream a long file as ``(start_seconds, mono float32 block at sample_rate)``.

    Consecutive blocks overlap by ``overlap_seconds`` (block ``k`` starts at
    ``k * (block_seconds - overlap_seconds)``), so a consumer can drop the edges where
    resampling and the model's receptive field are unreliable. Memory stays flat: only one
    block is decoded at a time.
    """
    if overlap_seconds < 0 or block_seconds <= overlap_seconds:
        raise ValueError(f"need block_seconds > overlap_seconds >= 0, got {block_seconds}, {overlap_seconds}")
    with _open(path) as f:
        orig_sr = f.samplerate
        if f.frames <= 0:
            raise AudioError(f"{path}: zero-length audio")
        block = int(round(block_seconds * orig_sr))
        overlap = int(round(overlap_seconds * orig_sr))
        hop = block - overlap
        start = 0
        while start < f.frames:
            f.seek(start)
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as exc:
                raise AudioError(
                    f"{path}: unreadable audio at {start / orig_sr:.2f} s ({exception_line(exc)})"
                ) from None
            if len(data) == 0:
                break
            wave = _check(path, _to_mono(data))
            yield start / orig_sr, resample(wave, orig_sr, sample_rate)
            if start + len(data) >= f.frames:
                break
            start += hop
