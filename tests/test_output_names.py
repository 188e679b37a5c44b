"""Any file name and any user text reaches every output, and an output set is all or nothing.

Issue 18 (C19, C20): non-Latin-1 stems aborted in the MIDI track name, a ``%`` broke
``song.ini``, and a failure midway left a partial set that blocked the rerun.
"""

from __future__ import annotations

import configparser
import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch
from conftest import save_tiny_bundle

from drumtx import outputs as outputs_module
from drumtx import transcribe as tx
from drumtx.chart import SongInfo
from drumtx.inference import InferenceSettings
from drumtx.midi_out import MIDI_CHARSET, one_line_text
from drumtx.outputs import existing_outputs, name_too_long, output_paths, write_outputs
from drumtx.targets import Onset
from drumtx.transcriber import Transcription
from drumtx.vocab import Vocabulary

NAMES = [
    "Барабаны",  # Cyrillic
    "ドラム",  # Japanese
    "drums 🥁",  # emoji
    "Ελληνικά عربي 中文 हिन्दी",  # several scripts in one
    "Ø latin1",
    "100% Drums",
    "a;b=c [live] #1",
    "\"quoted\" 'single'",
    ".hidden take",
    "%(name)s %%",
    "long " + "ü" * 90 + " 🥁" * 8,  # ~230 bytes: still a valid file name
]
ALL = ["midi", "chart", "csv", "json"]


def _result(source: Path) -> Transcription:
    onsets = [
        Onset(0.5 + 0.25 * k, c, 90)
        for k in range(16)
        for c in (["hihat_closed"] + (["kick"] if k % 4 == 0 else []))
    ]
    return Transcription(
        source=source,
        duration=5.0,
        onsets=onsets,
        confidences=[0.9] * len(onsets),
        beats=np.arange(0.5, 5.0, 0.5),
        probs={},
        onset_envelope=np.zeros(501, np.float32),
    )


TRANSCRIBER = SimpleNamespace(vocab=Vocabulary(), fps=100.0, thresholds={"kick": {"threshold": 0.5}},
                              settings=InferenceSettings.from_config())


def _read_ini(path: Path) -> configparser.SectionProxy:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(path, encoding="utf-8")
    return ini["song"]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_reaches_every_output(tmp_path, name):
    assert len(os.fsencode(name + ".json")) <= 255
    paths = output_paths(tmp_path, Path(name), ALL)
    info = SongInfo(name, artist='AC%DC; [x] = "y"', album="Ü%;=[", genre="Rock & Roll 🎸", charter="me%")
    written = write_outputs(
        _result(tmp_path / f"{name}.wav"), paths, TRANSCRIBER, info=info, chart_audio=False
    )
    assert written == [paths[f] for f in ALL]
    # MIDI: the name is the conductor track's name (UTF-8 meta text); other tools still load it.
    midi = mido.MidiFile(paths["midi"], charset=MIDI_CHARSET)
    assert midi.tracks[0].name == name
    assert [m.text for m in midi.tracks[0] if m.type == "text"] == [
        f"Artist: {info.artist}", f"Album: {info.album}", f"Genre: {info.genre}", f"Charter: {info.charter}"
    ]
    assert len(pretty_midi.PrettyMIDI(str(paths["midi"])).instruments[0].notes) == 20
    chart_midi = mido.MidiFile(paths["chart"] / "notes.mid", charset=MIDI_CHARSET)
    assert chart_midi.tracks[0].name == name
    assert [t.name for t in chart_midi.tracks[1:]] == ["PART DRUMS", "BEAT", "EVENTS"]
    # song.ini: every text verbatim.
    song = _read_ini(paths["chart"] / "song.ini")
    assert (song["name"], song["artist"], song["album"], song["genre"], song["charter"]) == (
        name,
        info.artist,
        info.album,
        info.genre,
        info.charter,
    )
    # CSV and JSON in UTF-8.
    with open(paths["csv"], encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 20
    raw = paths["json"].read_bytes()
    doc = json.loads(raw.decode("utf-8"))
    assert doc["title"] == name and doc["source"].endswith(f"{name}.wav")
    assert (doc["artist"], doc["album"], doc["genre"], doc["charter"]) == (
        info.artist, info.album, info.genre, info.charter
    )
    # Nothing else is left beside the outputs (no staging folder, no temporary file).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, f"{name}.mid", f"{name}.csv", f"{name}.json"]
    )


def test_control_characters_and_undecodable_bytes_become_one_valid_line():
    assert one_line_text("a\nb\tc\x00d ") == "a b c d"
    assert one_line_text("caf\udce9") == "caf\ufffd"  # a latin-1 byte in a UTF-8 file name
    assert one_line_text("100% ;=[\"'") == "100% ;=[\"'"


def test_a_failure_midway_leaves_nothing_and_the_rerun_works(tmp_path, monkeypatch):
    name = "100% Drums 🥁"
    paths = output_paths(tmp_path, Path(name), ALL)
    import drumtx.outputs

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(drumtx.outputs, "write_chart", broken)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(_result(tmp_path / f"{name}.wav"), paths, TRANSCRIBER, chart_audio=False)
    assert list(tmp_path.iterdir()) == []  # not the MIDI written before the chart, no staging folder
    assert existing_outputs(paths) == []  # so the rerun is not refused
    monkeypatch.undo()
    write_outputs(_result(tmp_path / f"{name}.wav"), paths, TRANSCRIBER, chart_audio=False)
    assert all(p.exists() for p in paths.values()) and (paths["chart"] / "song.ini").is_file()


def test_a_failed_overwrite_restores_the_previous_set(tmp_path, monkeypatch):
    paths = output_paths(tmp_path, Path("song"), ALL)
    write_outputs(_result(tmp_path / "song.wav"), paths, TRANSCRIBER, chart_audio=False)
    before = {
        p: p.read_bytes() for p in [paths["midi"], paths["csv"], paths["json"], paths["chart"] / "song.ini"]
    }
    real_replace, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst).endswith(".json") and Path(src).name == "out.json":  # the last output to move in
            raise OSError("device went away")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs_module.os, "replace", flaky)
    info = SongInfo("changed title")
    with pytest.raises(OSError, match="device went away"):
        write_outputs(_result(tmp_path / "song.wav"), paths, TRANSCRIBER, info=info, chart_audio=False)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in before} == before  # every earlier output restored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song", "song.csv", "song.json", "song.mid"]


def test_an_output_name_too_long_for_the_file_system_is_named_before_any_work(tmp_path):
    stem = "x" * 251  # song.wav fits in 255 bytes, song.json does not
    message = name_too_long(output_paths(tmp_path, Path(stem), ALL))
    assert message is not None and "256 bytes" in message and "255" in message
    assert name_too_long(output_paths(tmp_path, Path(stem), ["midi"])) is None


# ----------------------------------------------------------------------------- the CLI, end to end


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return save_tiny_bundle(tmp_path_factory.mktemp("model") / "tiny.safetensors")


def test_cli_with_unicode_names_and_percent_texts(bundle, tmp_path, capsys):
    sr = 22050
    y = np.zeros(2 * sr, np.float32)
    y[:: sr // 4] = 0.8  # clicks
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("Барабаны", "drums 🥁", "100% Drums"):
        sf.write(inputs / f"{name}.wav", y, sr)
    before = torch.get_num_threads()
    try:
        rc = tx.main(
            [
                str(inputs),
                "-o",
                str(tmp_path / "out"),
                "--ckpt",
                str(bundle),
                "--format",
                "midi,chart,csv,json",
                "--artist",
                "AC%DC",
                "--album",
                "50% off; [x]",
                "--genre",
                "=rock=",
                "--charter",
                "Zoë",
                "--threads",
                "1",
                "-q",
            ]
        )
    finally:
        torch.set_num_threads(before)
    err = capsys.readouterr().err
    assert rc == 0, err
    for name in ("Барабаны", "drums 🥁", "100% Drums"):
        song = _read_ini(tmp_path / "out" / name / "song.ini")
        assert (song["name"], song["artist"], song["album"], song["genre"], song["charter"]) == (
            name,
            "AC%DC",
            "50% off; [x]",
            "=rock=",
            "Zoë",
        )
        assert (tmp_path / "out" / name / "song.wav").is_file()
        assert mido.MidiFile(tmp_path / "out" / f"{name}.mid", charset=MIDI_CHARSET).tracks[0].name == name
        assert (tmp_path / "out" / f"{name}.csv").is_file() and (tmp_path / "out" / f"{name}.json").is_file()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
