"""Shared fixtures: a tiny E-GMD-format dataset made with numpy and pretty_midi.

``egmd_fixture`` (session-scoped, ~1 s to build) returns the folder ``Path`` of a miniature
E-GMD: ``e-gmd-v1.0.0.csv`` with every E-GMD column, and audio + MIDI for 7 tracks of 5
performances (performance 1 and 3 played on two kits, like E-GMD's 43)::

    split       performance (csv id)     kits  notes
    train       drummer1/session1/1      1, 2  kit 1: 44.1 kHz stereo WAV, kit 2: 22.05 kHz mono FLAC
    train       drummer1/session1/2      1
    train       drummer1/session1/5      1     CORRUPT audio (random bytes): prepare must skip it
    validation  drummer1/session1/3      1, 2
    test        drummer1/session1/4      1

Each track is 3 s long. Its MIDI (Roland TD-17 notes) holds a groove plus one of every
collision kind (snare head+rim, two toms, hi-hat+ride, hi-hat open+closed, ride bow+bell),
a cross-stick, a hi-hat pedal note and one note outside the note map (pitch 60). The audio is
a decaying sine thump or noise burst at every onset, so onsets are visible in the log-mel.

``egmd_builder`` returns :func:`build_egmd_fixture` for tests that need a variant (e.g. a
csv with a leaked performance). ``FIXTURE_SPLITS`` lists the usable tracks per split.
``egmd_config(*overrides)`` composes the ``prepare`` entry config on the fixture with the
cache in the test's tmp_path (the same groups as ``train``, so ``cfg.data``/``cfg.features``/
``cfg.augmentation`` build a :class:`~drumtx.data.datamodule.DrumDataModule` directly).

Models: ``tiny_config()`` is the default feature and head configs on a very narrow encoder and
``save_tiny_bundle(path)`` saves a randomly initialised one (seed 0) as a drumtx bundle. A test
module whose tiny LSTM should run on one torch thread sets
``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

DURATION = 3.0
CSV_NAME = "e-gmd-v1.0.0.csv"
EGMD_COLUMNS = ["drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "duration", "split",
                "midi_filename", "audio_filename", "kit_name"]

#: (performance number, split, kits); the corrupt one is performance 5.
PERFORMANCES = [(1, "train", (1, 2)), (2, "train", (1,)), (5, "train", (1,)), (3, "validation", (1, 2)),
                (4, "test", (1,))]
CORRUPT_PERFORMANCE = 5

#: (time s, TD-17 pitch, velocity) before the per-performance offset.
PATTERN = (
    [(0.2 + 0.25 * k, 42, 70) for k in range(11)]  # closed hi-hat 0.2 ... 2.7 s
    + [(0.2, 36, 110), (1.2, 36, 100), (2.2, 36, 105)]  # kick
    + [(0.7, 38, 100), (1.7, 38, 95)]  # snare head
    + [(0.2, 49, 120)]  # crash
    + [(2.6, 38, 90), (2.6, 40, 80)]  # collision: snare head + rim
    + [(1.35, 48, 90), (1.35, 45, 85)]  # collision: two toms (high + mid)
    + [(1.45, 51, 80)]  # collision: ride with the hi-hat at 1.45
    + [(1.95, 46, 85)]  # collision: open hi-hat with the closed one at 1.95
    + [(2.85, 51, 75), (2.85, 53, 90)]  # collision: ride bow + bell
    + [(0.95 + 0.1, 37, 60)]  # cross-stick -> snare_rim
    + [(2.35, 43, 95)]  # floor tom
    + [(0.33, 44, 50)]  # hi-hat pedal: dropped by default
    + [(1.0, 60, 64)]  # not in the note map: ignored
)
N_COLLISIONS = {"snare": 1, "tom": 1, "cymbal": 1, "hihat": 1, "ride": 1}



def audio_name(perf: int, kit: int) -> str:
    """``audio_filename`` (the track key) of one performance on one kit."""
    return f"drummer1/session1/{perf}_funk_120_beat_4-4_{kit}.{'wav' if kit == 1 else 'flac'}"


#: split -> usable track keys (the corrupt one excluded).
FIXTURE_SPLITS = {
    split: [audio_name(p, k) for p, s, ks in PERFORMANCES for k in ks if s == split and p != CORRUPT_PERFORMANCE]
    for split in ("train", "validation", "test")
}


def performance_notes(perf: int) -> list[tuple[float, int, int]]:
    """The MIDI notes of one performance: the pattern shifted by a few ms per performance."""
    offset = 0.013 * perf
    return [(round(t + offset, 4), p, v) for t, p, v in PATTERN]


def _voice(pitch: int, kit: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A short drum-like sound: a decaying sine (kick, toms) or noise burst (snare, cymbals)."""
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    detune = 1.0 if kit == 1 else 1.15
    tones = {36: 55.0, 43: 90.0, 45: 130.0, 48: 170.0, 50: 170.0, 47: 130.0, 58: 90.0}
    if pitch in tones:
        return np.sin(2 * np.pi * tones[pitch] * detune * t) * np.exp(-t * 18)
    noise = rng.standard_normal(n)
    if pitch in (42, 22, 44, 46, 26, 51, 59, 53, 49, 55, 57, 52):  # cymbals: brighter, pitch-specific decay
        noise = np.diff(noise, prepend=0.0)
        decay = {42: 60, 22: 60, 44: 80, 46: 12, 26: 12, 53: 20}.get(pitch, 8)
        return 0.5 * noise * np.exp(-t * decay)
    return (0.6 * noise + np.sin(2 * np.pi * 200 * detune * t)) * np.exp(-t * 25)


def synthesize(notes, sr: int, duration: float, kit: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wave = np.zeros(int(duration * sr), dtype=np.float64)
    for time, pitch, velocity in notes:
        if pitch == 60:
            continue
        voice = _voice(pitch, kit, sr, rng) * (velocity / 127) * 0.4
        start = int(round(time * sr))
        end = min(len(wave), start + len(voice))
        wave[start:end] += voice[: end - start]
    wave += 1e-4 * rng.standard_normal(len(wave))  # a noise floor, as in a recording
    return (wave / max(1.0, np.abs(wave).max())).astype(np.float32)


def write_midi(path: Path, notes, tempo: float = 120.0) -> None:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    for time, pitch, velocity in notes:
        drums.notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch, start=time, end=time + 0.05))
    midi.instruments.append(drums)
    midi.write(str(path))


def build_egmd_fixture(root: Path, performances=PERFORMANCES, corrupt: int | None = CORRUPT_PERFORMANCE,
                       split_override: dict[tuple[int, int], str] | None = None) -> Path:
    """Write a miniature E-GMD at ``root`` (see the module docstring) and return ``root``.

    ``split_override`` maps (performance, kit) to a split, e.g. to leak a performance.
    """
    import soundfile as sf

    root = Path(root)
    folder = root / "drummer1" / "session1"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for perf, split, kits in performances:
        notes = performance_notes(perf)
        for kit in kits:
            stem = f"{perf}_funk_120_beat_4-4_{kit}"
            audio_file = root / audio_name(perf, kit)
            write_midi(folder / f"{stem}.mid", notes)
            if perf == corrupt:
                audio_file.write_bytes(np.random.default_rng(0).bytes(4000))
            elif kit == 1:
                mono = synthesize(notes, 44100, DURATION, kit, seed=perf * 10 + kit)
                sf.write(audio_file, np.stack([mono, 0.8 * mono], axis=1), 44100, subtype="PCM_16")
            else:
                sf.write(audio_file, synthesize(notes, 22050, DURATION, kit, seed=perf * 10 + kit), 22050)
            rows.append({
                "drummer": "drummer1", "session": "drummer1/session1", "id": f"drummer1/session1/{perf}",
                "style": "funk", "bpm": "120", "beat_type": "beat", "time_signature": "4-4",
                "duration": f"{DURATION:.6f}", "split": (split_override or {}).get((perf, kit), split),
                "midi_filename": f"drummer1/session1/{stem}.mid", "audio_filename": audio_name(perf, kit),
                "kit_name": f"Kit {kit}",
            })
    with open(root / CSV_NAME, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EGMD_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture(scope="session")
def egmd_fixture(tmp_path_factory) -> Path:
    """Folder of a tiny E-GMD-format dataset (read-only: copy it before changing it)."""
    return build_egmd_fixture(tmp_path_factory.mktemp("egmd"))


@pytest.fixture(scope="session")
def egmd_builder():
    """:func:`build_egmd_fixture`, for tests that need a modified dataset."""
    return build_egmd_fixture


def compose_config(config_name: str = "prepare", overrides: list[str] | None = None):
    """Compose a drumtx entry config outside a Hydra app (``paths.*`` must be overridden)."""
    from hydra import compose, initialize_config_dir

    from drumtx import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides or []))


@pytest.fixture
def egmd_config(egmd_fixture, tmp_path):
    """``egmd_config(*overrides)`` -> the ``prepare`` config on ``egmd_fixture``, cache in tmp_path.

    In-process and quiet by default (no workers, no progress bar); pass overrides to change.
    """

    def make(*overrides: str):
        base = [
            "data=egmd", f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}",
            f"paths.output_dir={tmp_path / 'out'}", "data.prepare_workers=0", "data.num_workers=0",
            "progress=false", "augmentation=none",
        ]
        return compose_config("prepare", base + list(overrides))

    return make


def tiny_config():
    """The default feature and head configs on a very narrow encoder (fast on 2 cores)."""
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR

    return OmegaConf.create(
        {
            "features": OmegaConf.load(CONF_DIR / "features" / "logmel.yaml"),
            "encoder": {
                "_target_": "drumtx.models.encoder.CRNNEncoder",
                "n_mels": 128,
                "channels": [4, 8, 8, 8],
                "rnn_hidden": 16,
                "rnn_layers": 1,
                "rnn_dropout": 0.0,
            },
            "branches": OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml"),
            "data": {"targets": {"hihat_pedal": False}},
        }
    )


def save_tiny_bundle(path: Path) -> Path:
    """A DrumTranscriber of :func:`tiny_config`, randomly initialised with torch seed 0, saved as a
    drumtx bundle at ``path`` (``.safetensors`` + ``.json``); returns ``path``."""
    import torch

    from drumtx.checkpoint import build_meta, save_bundle
    from drumtx.models.transcriber import build_transcriber

    cfg = tiny_config()
    torch.manual_seed(0)
    save_bundle(path, build_transcriber(cfg), build_meta(cfg))
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module (restored after it): the tiny LSTM runs faster so, and
    other load on the machine cannot stretch the tests (two threads spin on each other at every
    time step)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler (KeyboardInterrupt) for one test, whatever the process
    inherited: a shell starts a background job with SIGINT ignored, Python then installs no
    handler, and a test that sends itself SIGINT sees nothing (a CI run started with `&`)."""
    import signal

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)
