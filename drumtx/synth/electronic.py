"""Electronic drum kits synthesised from a seed, written as SFZ kits for the sample player.

Why: the rendered training data has four sampled electronic kits and a few General MIDI
"electronic"/TR-808 presets, so a drum machine the model has not heard is easily misheard: the
case C08 (an 808/909-style kit made with numpy) gave a floor tom on every swept-sine kick and
claps went unheard (``experiments/cases``). Each kit here is a drum machine of its own: its kick
is a sine swept down from 90-260 Hz to 38-62 Hz with a click and some drive, its snare a tone and
band-passed noise or a multi-burst clap, its toms swept sines tuned in order (floor < mid < high),
its hi-hats and cymbals the TR-808's six square-wave oscillators (detuned per kit) band-passed,
its ride bell inharmonic partials. Parameters are drawn from the kit's seed, so a kit table entry
is all it takes to have another one (``conf/kits/electronic.yaml``).

Output: ``<folder>/kit.sfz`` with 4 velocity layers x 2 round-robin alternates per sound
(a harder hit is brighter: more click, a higher sweep, a wider noise band; the player scales the
level by velocity), 24-bit WAVs at 48 kHz that start at their attack (no pre-roll), the open
hi-hat choked by the closed and pedal ones (SFZ ``group``/``off_by``), and ``kit.json``: the
parameters and :data:`VERSION`. :func:`ensure_kit` writes a kit once and rewrites it when its
seed or this generator's version changes; the files are written to a temporary folder and moved
into place whole.

Keys are Roland TD-17 notes: 36 kick, 38 snare, 40 snare rim, 37 cross-stick, 48/45/43 high/mid/
floor tom, 46/42/44 open/closed/pedal hi-hat, 49 and 57 crash 1/2, 55 splash, 52 china, 51 ride,
53 ride bell; the kit table maps the other Roland notes (tom rims, edges) onto these.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

#: Bump whenever a kit's files change for the same seed (sounds, levels, layers, SFZ text): every
#: kit written by an older version is then written again.
VERSION = 1
SAMPLE_RATE = 48000
#: Velocity layers: (lovel, hivel, the velocity the layer is synthesised at).
LAYERS = ((1, 48, 36), (49, 88, 70), (89, 112, 100), (113, 127, 122))
ALTERNATES = 2
#: The sounds (SFZ key = Roland note) and what each is.
SOUNDS = {
    36: "kick", 38: "snare", 40: "snare_rim", 37: "cross_stick", 48: "tom_high", 45: "tom_mid",
    43: "tom_floor", 46: "hihat_open", 42: "hihat_closed", 44: "hihat_pedal", 49: "crash",
    57: "crash2", 55: "splash", 52: "china", 51: "ride", 53: "ride_bell",
}
#: Each sound's level in the kit (SFZ ``volume``, dB), before a per-kit draw of +-3 dB: cymbals
#: and hats well under the drums, as on a drum machine's own mix (h2_tr808: hats ~20 dB, cymbals
#: ~30 dB under its kick).
#: The kick sits 7 dB under full scale so that a render's level is near the sampled kits' (a
#: review measured -9.6 dBFS RMS against -16 to -18 for Hydrogen and AVL kits with 0 dB here).
LEVEL_DB = {
    "kick": -7.0, "snare": -9.0, "snare_rim": -8.0, "cross_stick": -16.0, "tom_high": -11.0, "tom_mid": -11.0,
    "tom_floor": -11.0, "hihat_open": -18.0, "hihat_closed": -19.0, "hihat_pedal": -22.0, "crash": -19.0,
    "crash2": -19.0, "splash": -21.0, "china": -20.0, "ride": -22.0, "ride_bell": -19.0,
}
#: The floor tom is at least this far (semitones) above the kick's end pitch, so that no kit's
#: kick and floor tom are the same drum.
KICK_TOM_GAP_ST = 5.0
#: The TR-808's hi-hat/cymbal oscillators (Hz): six square waves.
OSCILLATORS_808 = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


class ElectronicKitError(ValueError):
    """A generator setting out of range, or a kit folder that cannot be written (one line)."""


@dataclass(frozen=True)
class KitParams:
    """One drum machine, drawn by :meth:`draw` from a seed. Frequencies in Hz, times in seconds."""

    seed: int
    kick_start_hz: float
    kick_end_hz: float
    kick_sweep_s: float
    kick_decay_s: float
    kick_click: float
    kick_drive: float
    snare_clap: bool
    snare_tone_hz: float
    snare_tone_decay_s: float
    snare_noise_decay_s: float
    snare_noise_mix: float
    snare_band_hz: tuple[float, float]
    tom_floor_hz: float
    tom_steps: tuple[float, float]  # semitones floor -> mid -> high
    tom_decay_s: float
    metal_scale: float
    hat_band_hz: float
    hat_closed_s: float
    hat_open_s: float
    crash_s: float
    ride_s: float
    bell_hz: float

    @classmethod
    def draw(cls, seed: int) -> KitParams:
        r = np.random.default_rng([int(seed), 808])
        u = lambda lo, hi: float(r.uniform(lo, hi))  # noqa: E731
        lo_band = u(900, 2500)
        kick_end = u(38, 62)
        return cls(
            seed=int(seed),
            kick_start_hz=u(90, 260), kick_end_hz=kick_end, kick_sweep_s=u(0.01, 0.07),
            kick_decay_s=u(0.12, 0.9), kick_click=u(0.0, 0.6), kick_drive=u(1.0, 4.0),
            snare_clap=bool(r.random() < 0.35), snare_tone_hz=u(150, 260), snare_tone_decay_s=u(0.03, 0.12),
            snare_noise_decay_s=u(0.06, 0.3), snare_noise_mix=u(0.4, 0.85),
            snare_band_hz=(lo_band, lo_band * u(2.5, 6.0)),
            tom_floor_hz=max(u(65, 115), kick_end * 2 ** (KICK_TOM_GAP_ST / 12)), tom_steps=(u(3, 7), u(3, 7)), tom_decay_s=u(0.15, 0.6),
            metal_scale=u(0.8, 1.35), hat_band_hz=u(6500, 10500), hat_closed_s=u(0.012, 0.05),
            hat_open_s=u(0.15, 0.55), crash_s=u(0.8, 2.2), ride_s=u(0.9, 2.5), bell_hz=u(550, 950),
        )


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _band(x: np.ndarray, lo: float, hi: float | None = None, order: int = 2) -> np.ndarray:
    nyq = SAMPLE_RATE / 2 * 0.98
    if hi is None:
        sos = butter(order, min(lo, nyq), "highpass", fs=SAMPLE_RATE, output="sos")
    else:
        sos = butter(order, [lo, min(hi, nyq)], "bandpass", fs=SAMPLE_RATE, output="sos")
    return sosfilt(sos, x)


def _sweep(start: float, end: float, sweep_s: float, decay_s: float, seconds: float) -> np.ndarray:
    t = _t(seconds)
    freq = end + (start - end) * np.exp(-t / sweep_s)
    return np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE) * np.exp(-t / decay_s)


def _metal(p: KitParams, rng, seconds: float, decay_s: float, band: tuple[float, float | None],
           ratios: tuple[float, ...] = OSCILLATORS_808) -> np.ndarray:
    """Six detuned square waves (random phases), band-passed, decaying: 808-style metal."""
    t = _t(seconds)
    x = sum(np.sign(np.sin(2 * np.pi * f * p.metal_scale * t + rng.uniform(0, 2 * np.pi))) for f in ratios)
    x = x + 0.3 * rng.standard_normal(t.size)  # some noise: no two hits identical
    return _band(x, *band, order=4) * np.exp(-t / decay_s)


def _clap(p: KitParams, rng, bright: float) -> np.ndarray:
    t = _t(0.35)
    gaps = np.cumsum([0.0, *rng.uniform(0.007, 0.014, size=int(rng.integers(2, 4)))])
    env = sum(np.exp(-np.clip(t - d, 0, None) / 0.007) * (t >= d) for d in gaps)
    env = env + 0.6 * np.exp(-np.clip(t - gaps[-1], 0, None) / p.snare_noise_decay_s) * (t >= gaps[-1])
    lo, hi = p.snare_band_hz
    return _band(rng.standard_normal(t.size), lo * 0.8, hi * bright) * env


def _sound(p: KitParams, name: str, velocity: int, alternate: int) -> np.ndarray:
    """One hit of ``name`` (a :data:`SOUNDS` value) at MIDI ``velocity`` 1..127, round-robin
    ``alternate`` (0-based): float32 (n,) at :data:`SAMPLE_RATE`, peak 0.9, starting at its attack
    (3 ms ramp). Velocity changes the brightness only; the player sets the level.

    Raises:
        ElectronicKitError: an unknown sound name.
    """
    rng = np.random.default_rng([p.seed, velocity, alternate, *name.encode()])
    v = velocity / 127.0
    bright = 0.6 + 0.5 * v  # harder hits: higher sweeps and cut-offs, more click
    if name == "kick":
        x = _sweep(p.kick_start_hz * (0.85 + 0.25 * v), p.kick_end_hz, p.kick_sweep_s, p.kick_decay_s,
                   min(2.0, 5 * p.kick_decay_s))
        click = _band(rng.standard_normal(x.size), 2000) * np.exp(-_t(x.size / SAMPLE_RATE) / 0.002)
        x = x + p.kick_click * v * click
        x = np.tanh(p.kick_drive * x) / np.tanh(p.kick_drive)
    elif name in ("snare", "snare_rim"):
        if p.snare_clap and name == "snare":
            x = _clap(p, rng, bright)
        else:
            t = _t(max(0.2, 4 * p.snare_noise_decay_s))
            tone_hz = p.snare_tone_hz * (1.25 if name == "snare_rim" else 1.0)
            tone = (np.sin(2 * np.pi * tone_hz * t) + 0.5 * np.sin(2 * np.pi * tone_hz * 1.47 * t))
            tone = tone * np.exp(-t / p.snare_tone_decay_s)
            lo, hi = p.snare_band_hz
            noise = _band(rng.standard_normal(t.size), lo, hi * bright) * np.exp(-t / p.snare_noise_decay_s)
            noise = noise / (np.abs(noise).max() + 1e-9)
            mix = min(0.95, p.snare_noise_mix + (0.1 if name == "snare_rim" else 0.0))
            x = (1 - mix) * tone + mix * noise
            if name == "snare_rim":  # a rim shot: a hard click on top
                x = x + 0.8 * _band(rng.standard_normal(t.size), 3000) * np.exp(-t / 0.003)
    elif name == "cross_stick":
        t = _t(0.12)
        x = np.sin(2 * np.pi * p.snare_tone_hz * 2.6 * t) * np.exp(-t / 0.012)
        x = x + 0.5 * _band(rng.standard_normal(t.size), 1500, 6000) * np.exp(-t / 0.004)
    elif name.startswith("tom_"):
        step = {"tom_floor": 0.0, "tom_mid": p.tom_steps[0], "tom_high": p.tom_steps[0] + p.tom_steps[1]}[name]
        f = p.tom_floor_hz * 2 ** (step / 12)
        x = _sweep(f * (1.3 + 0.4 * v), f, 0.04, p.tom_decay_s, min(2.0, 5 * p.tom_decay_s))
        t = _t(x.size / SAMPLE_RATE)
        x = x + 0.15 * v * _band(rng.standard_normal(t.size), 1000, 5000) * np.exp(-t / 0.01)
    elif name.startswith("hihat_"):
        decay = {"hihat_closed": p.hat_closed_s, "hihat_pedal": 0.6 * p.hat_closed_s, "hihat_open": p.hat_open_s}[name]
        x = _metal(p, rng, min(2.0, 5 * decay + 0.02), decay, (p.hat_band_hz * (0.8 + 0.25 * v), None))
    elif name in ("crash", "crash2", "splash", "china"):
        scale, decay = {"crash": (1.0, p.crash_s), "crash2": (1.12, p.crash_s * 0.85),
                        "splash": (1.35, 0.35), "china": (0.9, p.crash_s * 0.7)}[name]
        x = _metal(p, rng, min(3.0, 2.5 * decay), decay, (3000 * scale * bright, 15000),
                   tuple(f * 2.3 * scale for f in OSCILLATORS_808))
        if name == "china":
            x = np.tanh(3 * x / (np.abs(x).max() + 1e-9))
    elif name == "ride":
        x = 0.6 * _metal(p, rng, min(3.0, 2.5 * p.ride_s), p.ride_s, (4000 * bright, 12000),
                         tuple(f * 3.1 for f in OSCILLATORS_808))
        t = _t(x.size / SAMPLE_RATE)
        x = x + 0.4 * v * _band(rng.standard_normal(t.size), 5000) * np.exp(-t / 0.004)  # the stick
    elif name == "ride_bell":
        t = _t(min(3.0, 2.5 * p.ride_s))
        x = sum(a * np.sin(2 * np.pi * p.bell_hz * k * t) for a, k in ((1.0, 1.0), (0.6, 2.41), (0.4, 3.93)))
        x = x * np.exp(-t / (0.5 * p.ride_s))
        x = x + 0.3 * _metal(p, rng, t.size / SAMPLE_RATE, 0.3 * p.ride_s, (5000, 14000))
    else:
        raise ElectronicKitError(f"unknown sound {name!r}")
    x = np.asarray(x, dtype=np.float64)
    n = min(x.size, int(0.003 * SAMPLE_RATE))
    x[:n] *= np.linspace(0.0, 1.0, n)  # a 3 ms attack ramp: the hit starts at sample 0, no click before it
    # the last fifth fades out: cymbals are cut at 3 s while 10-13 dB under their peak, and a
    # short fade there would be heard as a cut
    fade = max(1, min(x.size, max(int(0.01 * SAMPLE_RATE), x.size // 5)))
    x[-fade:] *= np.cos(np.linspace(0.0, np.pi / 2, fade)) ** 2
    return (0.9 * x / (np.abs(x).max() + 1e-12)).astype(np.float32)


def write_kit(folder: str | Path, seed: int) -> Path:
    """Synthesise the kit of ``seed`` into ``folder`` (replaced whole); returns its ``kit.sfz``.

    Callers that may race (render workers) go through :func:`ensure_kit`, which holds a lock.

    Raises:
        ElectronicKitError: a negative seed; the folder or a sample cannot be written (a full
            disk, a quota, no permission): one line naming the folder.
    """
    if int(seed) < 0:
        raise ElectronicKitError(f"{folder}: the generator seed must be 0 or more, got {seed}")
    folder = Path(folder)
    params = KitParams.draw(seed)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise ElectronicKitError(f"{folder}: cannot write the kit ({exc.strerror or exc})") from None
    try:
        lines = [f"// drumtx electronic kit, seed {seed}, generator version {VERSION} (drumtx.synth.electronic)",
                 "<control> default_path=samples/", ""]
        (tmp / "samples").mkdir()
        mix = np.random.default_rng([int(seed), 909]).uniform(-3.0, 3.0, size=len(SOUNDS))
        levels = {name: round(LEVEL_DB[name] + float(d), 2) for name, d in zip(SOUNDS.values(), mix, strict=True)}
        for key, name in SOUNDS.items():
            choke = ""
            if name == "hihat_open":
                choke = " group=1 off_by=2 off_mode=time off_time=0.04"  # off_mode for other SFZ players
            elif name in ("hihat_closed", "hihat_pedal"):
                choke = " group=2"
            lines.append(f"<group> key={key} seq_length={ALTERNATES} volume={levels[name]}{choke}")
            for lo, hi, vel in LAYERS:
                for alt in range(ALTERNATES):
                    wav = f"{name}_v{vel:03d}_{alt + 1}.wav"
                    sf.write(tmp / "samples" / wav, _sound(params, name, vel, alt), SAMPLE_RATE, subtype="PCM_24")
                    lines.append(f"<region> sample={wav} lovel={lo} hivel={hi} seq_position={alt + 1}")
        (tmp / "kit.sfz").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp / "kit.json").write_text(json.dumps({"version": VERSION, "params": asdict(params), "volume_db": levels}, indent=1))
        os.chmod(tmp, 0o755)
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except (OSError, sf.SoundFileError) as exc:  # libsndfile's write errors are no OSError
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or getattr(exc, "error_string", None) or str(exc)
        raise ElectronicKitError(f"{folder}: cannot write the kit ({reason})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder / "kit.sfz"


def is_current(folder: str | Path, seed: int) -> bool:
    """The kit in ``folder`` is whole and was made from ``seed`` by this :data:`VERSION`."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "kit.json").read_text())
    except (OSError, ValueError):
        return False
    return ((folder / "kit.sfz").is_file() and meta.get("version") == VERSION
            and (meta.get("params") or {}).get("seed") == int(seed))


def ensure_kit(sfz: str | Path, seed: int) -> bool:
    """Write the kit of ``seed`` so that ``sfz`` (``<folder>/kit.sfz``) exists and is current;
    True when written here. Processes that ask at once (render workers) wait on a lock file
    beside the folder, and all but the first find the kit written.

    Raises:
        ElectronicKitError: as :func:`write_kit`, or the lock cannot be taken (one line).
    """
    from filelock import FileLock  # as the feature cache's cross-process lock (drumtx.data.cache)

    folder = Path(sfz).expanduser().parent
    if is_current(folder, seed):
        return False
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder.with_name(f".{folder.name}.lock")))
        lock.acquire()
    except OSError as exc:
        raise ElectronicKitError(f"{folder}: cannot write the kit ({exc.strerror or exc})") from None
    try:
        if is_current(folder, seed):
            return False
        write_kit(folder, seed)
    finally:
        lock.release()
    return True
