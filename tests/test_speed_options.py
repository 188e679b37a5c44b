"""Speed work on the transcription path (experiments/bench/README.md, "Speed and memory"):
each change gives the results of what it replaced."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from drumtx import tempo

librosa = pytest.importorskip("librosa")


def _groove_envelope(seed: int, n: int = 6000, fps: float = 100.0) -> np.ndarray:
    """Onset strength of a groove going 100 -> 140 bpm halfway, with ghost notes, noise and
    silent stretches at both ends and in the middle."""
    rng = np.random.default_rng(seed)
    env = np.abs(rng.normal(0, 0.05, n))
    t, k = 3.0, 0
    while t * fps < n:
        i = int(round(t * fps))
        env[i] += 1.0 if k % 2 == 0 else 0.6
        if rng.random() < 0.3 and i + 12 < n:
            env[i + 12] += 0.2
        t += 60.0 / (100.0 if t < n / fps / 2 else 140.0) / 2
        k += 1
    env[:200] = 0.0
    env[n // 2 : n // 2 + 300] = 0.0
    env[-250:] = 0.0
    return env.astype(np.float32)


def _librosa_local_tempo(env: np.ndarray, fps: float, ac: float = 8.0, block_seconds: float = 20.0):
    """The tempi drumtx.tempo computed with librosa before (blocks with ac * fps frames of context)."""
    env = np.nan_to_num(np.asarray(env, dtype=np.float64))
    n, ctx = env.size, int(round(ac * fps))
    block = max(int(round(block_seconds * fps)), 2 * ctx)
    parts = []
    for a in range(0, n, block):
        lo, hi = max(0, a - ctx), min(n, a + block + ctx)
        bpm = librosa.feature.tempo(
            onset_envelope=env[lo:hi], sr=fps * 512, hop_length=512, aggregate=None, ac_size=ac
        )
        parts.append(bpm[a - lo : a - lo + min(block, n - a)])
    return np.concatenate(parts)


def test_onset_envelope_is_librosas():
    mel = np.random.default_rng(0).normal(-5, 3, (128, 700)).astype(np.float32)
    ref = librosa.onset.onset_strength(S=mel, lag=1, max_size=1, center=False, detrend=False)
    out = tempo.onset_envelope(mel)
    assert out.dtype == np.float32 and np.array_equal(out, ref.astype(np.float32))


@pytest.mark.parametrize(("seed", "fps", "n"), [(0, 100.0, 6000), (1, 86.1328125, 5000), (2, 100.0, 900)])
def test_local_tempi_and_beats_are_librosas(seed, fps, n):
    """The numpy tempogram + tempo + beat tracker give librosa's values bit for bit (tempi per
    frame; beats with a per-frame and a constant tempo)."""
    env = _groove_envelope(seed, n, fps)
    env64 = env.astype(np.float64)
    win = tempo._ac_frames(8.0, fps)
    padded = np.pad(env64, (win // 2, win // 2), mode="linear_ramp", end_values=[0, 0])
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n]
    bins, prior = tempo._tempo_bins(win, fps)
    ours = np.concatenate([tempo._frame_tempi(frames[a : a + 700], bins, prior) for a in range(0, n, 700)])
    assert np.array_equal(ours, _librosa_local_tempo(env, fps))

    bpm = tempo.local_tempo(env, fps)
    for tempi in (bpm, 97.0, 131.0):
        _, ref = librosa.beat.beat_track(
            onset_envelope=env64, sr=fps * 512, hop_length=512, bpm=tempi, units="time", trim=False
        )
        assert np.array_equal(tempo.beat_times(env64, fps, tempi), ref)
    assert np.array_equal(tempo.estimate_beats(env, fps), tempo.beat_times(env64, fps, bpm))


def test_beat_times_edge_cases():
    assert tempo.beat_times(np.zeros(50), 100.0, 120.0).size == 0
    with pytest.raises(ValueError, match="tempi > 0"):
        tempo.beat_times(np.ones(50), 100.0, np.zeros(50))
    with pytest.raises(ValueError, match="one per frame"):
        tempo.beat_times(np.ones(50), 100.0, np.full(7, 120.0))


def heavy_modules_loaded(code: str, packages: tuple[str, ...], also: str = "") -> list[str]:
    """Modules of ``packages`` (top-level names; and those starting with ``also``) that a fresh
    interpreter has imported after running ``code``."""
    probe = (
        f"{code}\nimport json, sys; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{packages!r} or ({also!r} and m.startswith({also!r})))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_beat_tracking_imports_no_librosa():
    """Transcription's beat tracking runs without librosa (its import compiles numba code and
    costs seconds and ~250 MB)."""
    code = (
        "import numpy as np; from drumtx.tempo import estimate_beats, onset_envelope; "
        "env = onset_envelope(np.random.default_rng(0).normal(size=(16, 3000)).astype('float32')); "
        "assert estimate_beats(env, 100.0).size"
    )
    assert heavy_modules_loaded(code, ("librosa", "numba")) == []


# ------------------------------------------------------------------------ encoder at inference
def _default_arch(velocity: bool = True):
    import torch
    from omegaconf import OmegaConf

    from drumtx import CONF_DIR
    from drumtx.models.transcriber import build_transcriber

    branches = OmegaConf.load(CONF_DIR / "branches" / "five_branch.yaml")
    branches.velocity = velocity
    cfg = OmegaConf.create(
        {
            "features": OmegaConf.load(CONF_DIR / "features" / "logmel.yaml"),
            "encoder": OmegaConf.load(CONF_DIR / "encoder" / "crnn_small.yaml"),
            "branches": branches,
            "data": {"targets": {"hihat_pedal": False}},
        }
    )
    torch.manual_seed(0)
    model = build_transcriber(cfg)
    with torch.no_grad():  # non-trivial batch-norm statistics, some scales negative
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(0.5, 1.0)
                m.bias.normal_(0, 0.5)
    return model.eval(), cfg


@pytest.mark.parametrize("frames", [3600, 1001, 7])
def test_for_inference_gives_the_same_logits_to_the_bit(frames, one_torch_thread):
    import copy

    import torch

    from drumtx.inference import PoolThenReLU, for_inference

    model, _ = _default_arch()
    fast = for_inference(copy.deepcopy(model))
    assert sum(isinstance(m, PoolThenReLU) for m in fast.modules()) == 4
    assert list(fast.state_dict()) == list(model.state_dict())
    assert for_inference(fast) is fast and sum(isinstance(m, PoolThenReLU) for m in fast.modules()) == 4
    g = torch.Generator().manual_seed(frames)
    mel = torch.randn(2, 128, frames, generator=g) * 3 - 5
    mel[1, :, frames // 2 :] = float(np.log(1e-5))  # silence: equal values, ties in every pool
    mask = torch.ones(2, frames, dtype=torch.bool)
    mask[1, frames - frames // 3 :] = False
    with torch.inference_mode():
        for m in (None, mask):
            ref, out = model(mel, m), fast(mel, m)
            assert ref.keys() == out.keys()
            assert all(torch.equal(ref[k], out[k]) for k in ref)


def test_pool_then_relu_trains_like_the_original():
    import torch

    from drumtx.inference import PoolThenReLU

    pool = torch.nn.MaxPool2d((2, 1))
    stand_in = PoolThenReLU(pool).train()
    x = torch.randn(2, 3, 9, 5, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    stand_in(x).sum().backward()
    pool(torch.relu(x2)).sum().backward()
    assert torch.equal(x.grad, x2.grad)
    with torch.no_grad():
        assert torch.equal(stand_in.eval()(x), pool(torch.relu(x)))  # odd height: last row dropped


def test_loaded_models_run_the_fast_blocks(tmp_path):
    from drumtx.checkpoint import build_meta, load_transcriber, save_bundle
    from drumtx.inference import PoolThenReLU

    model, cfg = _default_arch(velocity=False)
    save_bundle(tmp_path / "m.safetensors", model, build_meta(cfg))
    loaded, _ = load_transcriber(tmp_path / "m.safetensors")
    assert sum(isinstance(m, PoolThenReLU) for m in loaded.modules()) == 4


# ------------------------------------------------------------------------ peaks, mono, imports
def test_pick_peaks_are_scipys():
    from scipy.signal import find_peaks

    from drumtx.decode import pick_peaks

    rng = np.random.default_rng(0)
    for trial in range(600):
        n = int(rng.integers(1, 300))
        q = int(rng.choice([3, 10, 1000]))
        x = np.round(rng.random(n) * q) / q  # ties and plateaus
        if trial % 4 == 0:
            x = np.abs(np.sin(np.arange(n) / rng.uniform(1, 20)))
        threshold, gap = float(rng.choice([0.0, 0.3, 0.9])), int(rng.integers(1, 30))
        ref, _ = find_peaks(np.concatenate(([-np.inf], x, [-np.inf])), height=threshold, distance=gap)
        assert np.array_equal(pick_peaks(x, threshold, gap), ref - 1), (trial, x, threshold, gap)
    assert pick_peaks(np.zeros(0), 0.5).size == 0


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_to_mono_is_the_channel_mean(channels):
    from drumtx.audio import _to_mono

    rng = np.random.default_rng(channels)
    scale = rng.choice(np.array([1e-30, 1.0, 3e38], dtype=np.float32), (10001, channels))
    with np.errstate(over="ignore", invalid="ignore"):
        data = rng.standard_normal((10001, channels)).astype(np.float32) * scale  # tiny, normal, inf
        ref = data.mean(axis=1, dtype=np.float32)
        out = _to_mono(data)
    assert out.dtype == np.float32 and np.array_equal(out, ref, equal_nan=True)


def test_transcription_path_imports_stay_light():
    """What ``python -m drumtx.transcribe`` loads before reading a file: none of the heavy
    libraries it does not need (training, plotting, librosa/numba, scipy.signal)."""
    heavy = ("lightning", "pytorch_lightning", "matplotlib", "pedalboard", "librosa", "numba", "pandas")
    code = "import drumtx.transcribe, drumtx.tempo, drumtx.inference"
    assert heavy_modules_loaded(code, heavy, also="scipy.signal") == []


# --------------------------------------------------------------------------- command and bench
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and os.wait4 are Linux's")
def test_bench_reports_every_stage_and_the_command_exits_cleanly(tmp_path):
    """The benchmark runs the real command (its outputs, exit status and os._exit ending) and
    splits its CPU time into the stages; the stages add up to the in-process total."""
    from conftest import save_tiny_bundle

    from drumtx.bench_transcribe import STAGES, measure, stage_table, synth_drum_file

    bundle = save_tiny_bundle(tmp_path / "tiny.safetensors")
    synth_drum_file(tmp_path / "a.wav", 0.25, sample_rate=32000, channels=2)
    run = measure(tmp_path / "a.wav", bundle, threads=1, out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "a.mid").is_file()
    assert list(run["stages"]) == list(STAGES)
    for stage in ("imports", "decode", "mel", "network", "beat_tracking", "writing"):
        assert run["stages"][stage]["cpu_s"] > 0, stage
    assert sum(s["cpu_s"] for s in run["stages"].values()) == pytest.approx(run["cpu_seconds"], abs=0.02)
    assert sum(s["cpu_share"] for s in run["stages"].values()) == pytest.approx(1.0, abs=0.02)
    assert run["process_cpu_seconds"] >= run["cpu_seconds"] - 0.05 and run["peak_rss_mb"] > 100
    assert run["seconds"] >= run["seconds_to_outputs"] > 0 and run["x_realtime"] > 0
    assert "network" in stage_table(run) and "process" in stage_table(run)

    # python -m drumtx.transcribe ends through exit_now: status kept, output flushed
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "drumtx.transcribe",
            str(tmp_path / "a.wav"),
            "-o",
            str(tmp_path / "o2"),
            "--ckpt",
            str(bundle),
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "a.wav ->" in out.stdout and (tmp_path / "o2" / "a.mid").is_file()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "drumtx.transcribe",
            str(tmp_path / "missing.wav"),
            "-o",
            str(tmp_path / "o3"),
            "--ckpt",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1 and "missing.wav" in out.stderr


def test_bench_records_the_cpu_model_and_family(tmp_path):
    """A benchmark names the CPU it ran on: the same code ran at 102x and 57x real time on one
    2-core VM whose host changed CPU; a generic "AMD EPYC" is told apart by its family."""
    from drumtx.bench import cpu_model, load_average, machine

    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
        "model name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: other\n"
    )
    assert cpu_model(info) == "AMD EPYC (family 26, model 2)"
    assert cpu_model(tmp_path / "missing")  # falls back to the platform, never raises
    load = load_average()
    assert load is None or (len(load) == 3 and all(x >= 0 for x in load))
    described = machine()
    assert described["cpu"] and "load_average" in described
