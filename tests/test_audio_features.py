"""Audio decoding (any rate, mono/stereo, bad files) and the log-mel front end."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from drumtx import CONF_DIR
from drumtx.audio import AudioError, audio_duration, iter_audio_blocks, load_audio
from drumtx.features import LogMel


def _sine(freq, sr, seconds):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def _peak_hz(wave, sr):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.argmax(spectrum) * sr / len(wave)


def test_load_audio_resamples_and_downmixes(tmp_path):
    left, right = _sine(440, 44100, 1.0), _sine(1000, 44100, 1.0)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), 44100, subtype="PCM_24")
    wave = load_audio(tmp_path / "st.wav", 24000)
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) == 24000
    spectrum = np.abs(np.fft.rfft(wave))
    top = sorted(np.argsort(spectrum)[-2:] * 24000 / len(wave))
    assert top == pytest.approx([440, 1000], abs=2)  # both channels, mixed down, pitch kept
    assert np.abs(wave).max() == pytest.approx(0.5, abs=0.06)  # mean of the channels, not the sum

    sf.write(tmp_path / "mono.flac", _sine(300, 16000, 0.5), 16000)
    wave = load_audio(tmp_path / "mono.flac", 24000)
    assert len(wave) == 12000 and _peak_hz(wave, 24000) == pytest.approx(300, abs=3)
    assert audio_duration(tmp_path / "mono.flac") == pytest.approx(0.5)


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty_file", "zero_frames", "nan"])
def test_bad_audio_raises_one_clear_line(tmp_path, case):
    path = tmp_path / f"{case}.wav"
    if case == "corrupt":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif case == "empty_file":
        path.write_bytes(b"")
    elif case == "zero_frames":
        sf.write(path, np.zeros(0, np.float32), 24000)
    elif case == "nan":
        data = _sine(100, 24000, 0.1)
        data[100] = np.nan
        sf.write(path, data, 24000, subtype="FLOAT")
    with pytest.raises(AudioError) as info:
        load_audio(path, 24000)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    reason = {"missing": "missing", "corrupt": "unreadable", "empty_file": "unreadable", "zero_frames": "zero-length",
              "nan": "non-finite"}[case]
    assert reason in message
    assert isinstance(info.value, ValueError)


def test_iter_audio_blocks_streams_the_whole_file(tmp_path):
    sr_in, sr = 22050, 24000
    rng = np.random.default_rng(0)
    data = (0.1 * rng.standard_normal(int(sr_in * 7.3))).astype(np.float32)
    sf.write(tmp_path / "long.wav", np.stack([data, data], axis=1), sr_in, subtype="FLOAT")
    whole = load_audio(tmp_path / "long.wav", sr)
    blocks = list(iter_audio_blocks(tmp_path / "long.wav", sr, block_seconds=2.0, overlap_seconds=0.5))
    starts = [s for s, _ in blocks]
    assert starts == pytest.approx([0.0, 1.5, 3.0, 4.5, 6.0])
    assert all(len(b) == 2 * sr for _, b in blocks[:-1])
    last_start, last = blocks[-1]
    assert last_start * sr + len(last) == pytest.approx(len(whole), abs=2)  # reaches the end
    for start, block in blocks:  # away from block edges, a block equals the whole-file decode
        s = int(round(start * sr))
        inner = slice(200, len(block) - 200)
        np.testing.assert_allclose(block[inner], whole[s:s + len(block)][inner], atol=2e-3)
    with pytest.raises(ValueError):
        next(iter_audio_blocks(tmp_path / "long.wav", sr, block_seconds=1.0, overlap_seconds=1.0))
    with pytest.raises(AudioError, match="missing"):
        next(iter_audio_blocks(tmp_path / "nope.wav", sr))


def test_logmel_shape_fps_and_frame_alignment():
    mel = LogMel()
    assert mel.fps == 100.0 and mel.n_mels == 128 and (mel.f_min, mel.f_max) == (20.0, 11000.0)
    for n in (24000, 24001, 24239, 24240):
        assert mel(torch.zeros(n)).shape == (128, n // 240 + 1) == (128, mel.n_frames(n))
    assert mel(torch.zeros(2, 3, 4800)).shape == (2, 3, 128, 21)
    # A click at s seconds peaks at frame round(s * fps).
    for s in (0.5, 1.234, 2.006):
        wave = np.zeros(3 * 24000, np.float32)
        wave[int(round(s * 24000))] = 1.0
        out = mel.compute(wave)
        assert out.dtype == np.float32
        assert int(np.argmax(out.sum(axis=0))) == round(s * mel.fps)
    assert mel.compute(np.zeros(2400, np.float32)) == pytest.approx(mel.silence)  # silence is log(eps)


def test_logmel_frequency_range_and_config():
    mel = LogMel()
    low, high = mel.compute(_sine(100, 24000, 1.0)), mel.compute(_sine(8000, 24000, 1.0))
    assert np.argmax(low.mean(axis=1)) < 20 < 100 < np.argmax(high.mean(axis=1))
    assert LogMel(**mel.config_dict()).config_dict() == mel.config_dict()
    with pytest.raises(ValueError, match="Nyquist"):
        LogMel(sample_rate=16000, f_max=11000)
    small = LogMel(sample_rate=16000, hop_length=160, n_mels=64, f_max=8000)
    assert small.fps == 100.0 and small(torch.zeros(16000)).shape == (64, 101)


def test_features_group_instantiates_the_design_defaults():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("prepare", overrides=["features.n_mels=64"])
    mel = instantiate(cfg.features)
    assert isinstance(mel, LogMel)
    assert mel.config_dict() == {"sample_rate": 24000, "hop_length": 240, "n_fft": 1024, "n_mels": 64,
                                 "f_min": 20.0, "f_max": 11000.0, "log_eps": 1e-5,
                                 "level_db": -15.0, "max_gain_db": 60.0}


@pytest.mark.parametrize(("orig_sr", "sr"), [(44100, 24000), (48000, 24000), (22050, 24000), (24000, 24000)])
def test_resampled_length_is_what_resample_gives(orig_sr, sr):
    """Including lengths where torchaudio's float32 ceiling is one short of the exact one
    (529,856 samples at 44.1 kHz: 288,357 at 24 kHz, exactly 288,357.007)."""
    from drumtx.audio import resample, resampled_length

    for n in (1, 147, 1000, 44101, 529856, 529855, 1_234_567):
        assert resampled_length(n, orig_sr, sr) == resample(np.zeros(n, np.float32), orig_sr, sr).shape[0], n
    assert resampled_length(529856, 44100, 24000) == 288357  # not -(-529856 * 80 // 147) = 288358


@pytest.mark.parametrize(
    ("n", "orig_sr", "sr"),
    [
        (529856, 44100, 24000),  # whole file one sample short of the exact ceiling
        (100000, 22050, 24000),  # upsampled
        (5000, 24000, 24000),  # no resampling
        # past 2^24 output samples: the whole file is one sample *longer* than the exact ceiling
        pytest.param(33_554_438, 48000, 24000, marks=pytest.mark.slow),
    ],
)
def test_resample_tail_is_the_whole_files_end_bit_for_bit(n, orig_sr, sr):
    import math

    from drumtx.audio import resample, resample_tail, resampled_length

    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    whole = resample(x, orig_sr, sr)
    assert whole.shape[0] == resampled_length(n, orig_sr, sr)
    g = math.gcd(orig_sr, sr)
    start = (n // 2) // (orig_sr // g) * (orig_sr // g)  # a phase restart
    offset = start // (orig_sr // g) * (sr // g)
    tail = resample_tail(x[start:], orig_sr, sr, whole.shape[0] - offset)
    assert tail.shape[0] == whole.shape[0] - offset
    # the tail's first samples lack the left context (iter_log_mel reads a margin there)
    np.testing.assert_array_equal(tail[200:], whole[offset + 200:])


def test_a_file_that_is_not_audio_is_one_line_without_decoder_chatter(tmp_path, capfd):
    """Found by a new-user trial: a text file named .mp3 printed six "Note: Illegal Audio-MPEG-Header"
    lines from libmpg123 and then libsndfile's "File does not exist or is not a regular file"."""
    for name in ("text.mp3", "text.wav"):
        (tmp_path / name).write_text("hello, not audio\n")
        with pytest.raises(AudioError) as err:
            audio_duration(tmp_path / name)
        assert "unreadable audio" in str(err.value) and "does not exist" not in str(err.value), err.value
    out, stderr = capfd.readouterr()
    assert stderr == "" and out == ""
    print("stderr works again", file=sys.stderr)  # descriptor 2 is back
    assert "works again" in capfd.readouterr().err


def test_a_cut_off_flac_gives_what_decodes_and_says_so(tmp_path):
    """A FLAC cut off halfway (an interrupted download) failed as a whole with "unreadable audio
    at 0.00 s". Now the streamed log-mel is that of its decodable part, bit for bit the log-mel
    of a file that ends there, and ``truncated`` says how much of it decoded."""
    from drumtx.audio import PartlyDecodable
    from drumtx.features import iter_log_mel
    from drumtx.inference import file_mel

    sr = 44100
    rng = np.random.default_rng(0)
    wave = (0.2 * rng.standard_normal(sr * 12) * np.exp(-(np.arange(sr * 12) % 22050) / 2000)).astype(np.float32)
    whole = tmp_path / "whole.flac"
    sf.write(whole, np.stack([wave, wave[::-1]], axis=1), sr)
    cut = tmp_path / "cut.flac"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    feats = LogMel()

    with pytest.raises(PartlyDecodable) as info:
        list(iter_log_mel(cut, feats, block_seconds=10.0))
    ok = info.value.frames
    assert 0 < ok < 12 * sr and info.value.total_frames == 12 * sr
    assert "undecodable audio after" in str(info.value) and "\n" not in str(info.value)

    with file_mel(cut, feats) as mel:
        assert mel.truncated.startswith(f"only {ok / sr:.1f} s of its 12.0 s decode")
        got = mel[:, 0 : mel.shape[1]]
    head = tmp_path / "head.wav"
    sf.write(head, sf.read(whole, frames=ok, dtype="float32")[0], sr, subtype="FLOAT")
    with file_mel(head, feats) as ref:
        assert ref.truncated is None
        np.testing.assert_array_equal(got, ref[:, 0 : ref.shape[1]])
    with file_mel(whole, feats) as full:
        assert full.truncated is None and full.shape[1] > got.shape[1]


def test_a_cut_off_mp3_gives_what_decodes_and_says_so_on_one_line(tmp_path, capfd):
    """A new-user trial: an MP3 cut off halfway failed as a whole ("unreadable audio at 9.95 s
    (file ends early)": its reads come back short, without an error), after libmpg123's
    "Warning: Xing stream size off …" on a line of its own. Now it gives the log-mel of what
    decodes, bit for bit, with a note, and nothing else on stderr."""
    from drumtx.inference import file_mel

    sr = 44100
    rng = np.random.default_rng(1)
    wave = (0.2 * rng.standard_normal(sr * 12) * np.exp(-(np.arange(sr * 12) % 22050) / 2000)).astype(np.float32)
    whole = tmp_path / "whole.mp3"
    sf.write(whole, np.stack([wave, wave], axis=1), sr)
    cut = tmp_path / "cut.mp3"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    decoded = sf.read(cut, dtype="float32")[0]  # one sequential read: what decodes
    assert 0 < len(decoded) < 12 * sr
    capfd.readouterr()
    feats = LogMel()
    with file_mel(cut, feats) as mel:
        assert mel.truncated.startswith(f"only {len(decoded) / sr:.1f} s of its 12.0 s decode (file ends early)")
        got = mel[:, 0 : mel.shape[1]]
    assert capfd.readouterr().err == ""
    head = tmp_path / "head.wav"
    sf.write(head, decoded, sr, subtype="FLOAT")
    with file_mel(head, feats) as ref:
        np.testing.assert_array_equal(got, ref[:, 0 : ref.shape[1]])


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_a_cut_off_ogg_is_named_though_it_reads_without_an_error(tmp_path, subtype):
    """A new-user trial: a 30 s Ogg cut in half was transcribed as a 14.3 s file without a word
    (libsndfile takes its length from the last page it finds). Its last page is cut off and
    lacks the end-of-stream flag; a whole file's has it."""
    from drumtx.audio import ogg_stream_ends, truncation
    from drumtx.inference import file_mel

    sr = 48000
    wave = (0.1 * np.random.default_rng(2).standard_normal(sr * 6)).astype(np.float32)
    whole = tmp_path / "whole.ogg"
    sf.write(whole, wave, sr, format="OGG", subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(data[: len(data) // 2])
    assert ogg_stream_ends(whole) and truncation(whole) is None
    assert not ogg_stream_ends(cut)
    assert truncation(cut).startswith("truncated: its last Ogg page is cut off or does not end the stream")
    with file_mel(cut, LogMel()) as mel:
        assert mel.truncated == truncation(cut)
    with file_mel(whole, LogMel()) as mel:
        assert mel.truncated is None


def test_a_file_cut_to_its_header_says_so(tmp_path):
    """A new-user trial: a 100-byte FLAC head failed with "LibsndfileError: Internal psf_fseek()
    failed." (the decoder's failed seek escaped as the reason); a 44-byte WAV header promising
    20 s was only "zero-length audio". Both now say the file is cut off."""
    from drumtx.audio import AudioError
    from drumtx.features import iter_log_mel

    wave = np.zeros((44100 * 20, 2), np.float32)
    for name in ("whole.flac", "whole.wav"):
        sf.write(tmp_path / name, wave, 44100, subtype="PCM_16")
    (tmp_path / "head.flac").write_bytes((tmp_path / "whole.flac").read_bytes()[:100])
    (tmp_path / "head.wav").write_bytes((tmp_path / "whole.wav").read_bytes()[:44])
    with pytest.raises(AudioError) as err:
        list(iter_log_mel(tmp_path / "head.flac", LogMel()))
    assert "unreadable audio at 0.00 s of its 20.0 s, cut off or damaged" in str(err.value), err.value
    with pytest.raises(AudioError) as err:
        list(iter_log_mel(tmp_path / "head.wav", LogMel()))
    assert str(err.value).endswith(
        "head.wav: zero-length audio (truncated: its header promises 20.0 s of audio, the file holds none)")
