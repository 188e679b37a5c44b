"""Read multi-sampled drum kits as data: Hydrogen ``drumkit.xml`` and the SFZ subset drum kits use.

Both readers return a :class:`SampleKit`: instruments by kit key (a Hydrogen instrument
``<id>`` or an SFZ MIDI key), each a list of :class:`Region` (one sample with its velocity
range, alternates, gain, pan, tuning and choke group). Nothing is decoded here; the player
(:mod:`drumtx.synth.sampled.player`) loads the samples it needs.

Hydrogen: both the old format (``<filename>`` per instrument, 0.9.x ``<layer>`` directly under
``<instrument>``, ``pan_L``/``pan_R``) and the layered 1.x format (``<instrumentComponent>``,
``<pan>``, ``<sampleSelectionAlgo>``, ``<muteGroup>``) are read; instruments with no sample
are kept (empty) and only an error if a kit map plays them.

SFZ: ``<control>`` (``default_path``), ``#define``, ``#include``, ``<global>``/``<master>``/
``<group>``/``<region>``, ``sample`` (``*silence`` for choke-only regions), ``key``/``lokey``/
``hikey``, ``lovel``/``hivel``, ``seq_length``/``seq_position``, ``lorand``/``hirand``,
``group``/``off_by``/``off_time``, ``volume``/``group_volume``/``master_volume``/
``global_volume``, ``amplitude``, ``pan``, ``tune``/``transpose``, ``amp_velcurve_N``,
``amp_veltrack`` and ``offset``. Other opcodes are ignored: CC modulation (``*_oncc*``,
``set_cc``), envelopes (``ampeg_*``, ``off_shape``), filters, ``note_polyphony`` and
``loop_mode`` (drum one-shots play to their end unless choked), labels.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


class SampledKitError(ValueError):
    """A sampled kit cannot be read or played; the message is one line naming the kit and file."""


@dataclass(frozen=True)
class Region:
    """One sample and when it plays. Velocities are MIDI units (1..127, inclusive range)."""

    sample: Path | None  # None: a silent region (SFZ ``*silence``), struck only for its choke group
    lovel: float = 0.0
    hivel: float = 127.0
    gain: float = 1.0  # linear amplitude at full velocity
    pan: float = 0.0  # -1 (left) .. +1 (right)
    semitones: float = 0.0  # tuning
    seq_length: int = 1
    seq_position: int = 1
    lorand: float = 0.0
    hirand: float = 1.0
    group: int = 0  # choke group this region belongs to (0: none)
    off_by: int = 0  # striking a region of this group fades this one (0: never)
    off_time: float | None = None  # fade length (s) when choked; None: the player's default
    velcurve: tuple[tuple[float, float], ...] = ()  # SFZ amp_velcurve points (velocity, amplitude)
    veltrack: float = 1.0  # SFZ amp_veltrack / 100
    linear_velocity: bool = False  # Hydrogen: amplitude proportional to velocity
    offset: int = 0  # samples skipped at the start (SFZ ``offset``, at the file's rate)

    def amplitude(self, velocity: float) -> float:
        """Linear gain of a hit at MIDI ``velocity`` (the region's own gain included)."""
        v = min(127.0, max(0.0, float(velocity)))
        if self.linear_velocity:
            return self.gain * v / 127.0
        if self.velcurve:
            xs = [0.0] + [p[0] for p in self.velcurve] + [127.0]
            ys = [0.0] + [p[1] for p in self.velcurve] + [1.0 if self.velcurve[-1][0] < 127 else self.velcurve[-1][1]]
            pts = sorted(dict(zip(xs, ys, strict=True)).items())
            return self.gain * float(_interp(v, pts))
        # SFZ default: amplitude = (velocity / 127)^2 tracked by amp_veltrack
        return self.gain * (1.0 - self.veltrack + self.veltrack * (v / 127.0) ** 2)


def _interp(x: float, pts: list[tuple[float, float]]) -> float:
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[-1][1]


@dataclass
class Instrument:
    key: int
    name: str
    regions: list[Region] = field(default_factory=list)
    select: str = "all"  # all (SFZ: every matching region sounds) | first | round_robin | random (Hydrogen)

    @property
    def sounding(self) -> list[Region]:
        return [r for r in self.regions if r.sample is not None]


@dataclass
class SampleKit:
    name: str  # the kit's name in conf/kits
    path: Path  # drumkit.xml or .sfz
    format: str
    instruments: dict[int, Instrument]
    title: str = ""  # the kit's own name in its file
    author: str = ""
    licence: str = ""
    # what the kit file holds that is likely a typo (one line each, naming kit and file): an SFZ
    # opcode drumtx does not read that is one slip from one it does (hivell for hivel)
    doubts: list[str] = field(default_factory=list)

    def error(self, msg: str, file: Path | str | None = None) -> SampledKitError:
        return SampledKitError(f"kit {self.name}: {file or self.path}: {msg}")


def read_kit(name: str, path: str | Path, fmt: str) -> SampleKit:
    """Read a kit file of format ``hydrogen`` or ``sfz``.

    Raises:
        SampledKitError: unreadable or malformed file (one line: kit, file, what is wrong).
    """
    path = Path(path)
    if not path.is_file():
        raise SampledKitError(f"kit {name}: {path}: kit file not found")
    if fmt == "hydrogen":
        return read_hydrogen(name, path)
    if fmt == "sfz":
        return read_sfz(name, path)
    raise SampledKitError(f"kit {name}: {path}: unknown sampled kit format {fmt!r}")


# ------------------------------------------------------------------------------ Hydrogen
def _num(el, tag: str, default: float, kit: str, path: Path) -> float:
    text = el.findtext(tag)
    if text is None or text.strip() in ("", "None"):
        return default
    try:
        return float(text)
    except ValueError:
        raise SampledKitError(f"kit {kit}: {path}: <{tag}> is not a number: {text.strip()!r}") from None


def read_hydrogen(name: str, path: Path) -> SampleKit:
    """A Hydrogen ``drumkit.xml`` (old sample-per-instrument or layered format)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SampledKitError(f"kit {name}: {path}: malformed drumkit.xml ({exc})") from None
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    if root.tag != "drumkit_info" or root.find("instrumentList") is None:
        raise SampledKitError(f"kit {name}: {path}: not a Hydrogen drumkit.xml (no drumkit_info/instrumentList)")
    kit = SampleKit(name, path, "hydrogen", {}, root.findtext("name") or "", root.findtext("author") or "",
                    root.findtext("license") or "")
    for ins in root.find("instrumentList").findall("instrument"):
        try:
            key = int((ins.findtext("id") or "").strip())
        except ValueError:
            raise SampledKitError(f"kit {name}: {path}: instrument without an integer <id>") from None
        gain = _num(ins, "volume", 1.0, name, path) * _num(ins, "gain", 1.0, name, path)
        if ins.find("pan") is not None:
            pan = _num(ins, "pan", 0.0, name, path)
        else:  # old format: per-channel gains
            pan = _num(ins, "pan_R", 1.0, name, path) - _num(ins, "pan_L", 1.0, name, path)
        pitch = _num(ins, "pitchOffset", 0.0, name, path)
        mute = int(_num(ins, "muteGroup", -1, name, path))
        group = 1000 + mute if mute >= 0 else 0  # Hydrogen mute groups: members cut each other
        algo = (ins.findtext("sampleSelectionAlgo") or "VELOCITY").strip().upper()
        select = {"VELOCITY": "first", "ROUND_ROBIN": "round_robin", "RANDOM": "random"}.get(algo, "first")
        layers = [(lay.findtext("filename"), _num(lay, "min", 0.0, name, path), _num(lay, "max", 1.0, name, path),
                   _num(lay, "gain", 1.0, name, path), _num(lay, "pitch", 0.0, name, path))
                  for lay in ins.iter("layer")]
        if not layers and (ins.findtext("filename") or "").strip():
            layers = [(ins.findtext("filename"), 0.0, 1.0, 1.0, 0.0)]
        regions = []
        for fname, lo, hi, lgain, lpitch in layers:
            if not (fname or "").strip():
                continue
            if not (0.0 <= lo <= hi <= 1.0 + 1e-6):
                raise SampledKitError(f"kit {name}: {path}: instrument {key}: layer range [{lo}, {hi}] not in [0, 1]")
            regions.append(Region(path.parent / fname.strip(), lo * 127, hi * 127, gain * lgain, max(-1.0, min(1.0, pan)),
                                  pitch + lpitch, group=group, off_by=group, linear_velocity=True))
        if key in kit.instruments:
            raise SampledKitError(f"kit {name}: {path}: instrument id {key} defined twice")
        kit.instruments[key] = Instrument(key, (ins.findtext("name") or "").strip(), regions, select)
    return kit


# ------------------------------------------------------------------------------ SFZ
_NOTE = re.compile(r"^([a-gA-G])([#b]?)(-?\d+)$")
_STEPS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_TOKEN = re.compile(r"<(\w+)>|([A-Za-z0-9_]+)=")
_HEADERS = ("control", "global", "master", "group", "region")
_IGNORED_HEADERS = ("curve", "effect", "midi")


def _key(value: str) -> int:
    value = value.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    m = _NOTE.match(value)
    if not m:
        raise ValueError(f"not a key: {value!r}")
    acc = {"#": 1, "b": -1, "": 0}[m.group(2)]
    return (int(m.group(3)) + 1) * 12 + _STEPS[m.group(1).lower()] + acc  # c4 = 60


def _sfz_text(name: str, path: Path, depth: int = 0) -> str:
    if depth > 8:
        raise SampledKitError(f"kit {name}: {path}: #include nested too deep")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SampledKitError(f"kit {name}: {path}: unreadable ({exc.strerror})") from None
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.splitlines():
        line = re.sub(r"//.*$", "", line)
        inc = re.match(r'\s*#include\s+"([^"]+)"', line)
        if inc:
            out.append(_sfz_text(name, path.parent / inc.group(1), depth + 1))
        else:
            out.append(line)
    return "\n".join(out)


def read_sfz(name: str, path: Path) -> SampleKit:
    """An ``.sfz`` kit (the subset drum kits use; see the module docstring)."""
    text = _sfz_text(name, path)
    defines: dict[str, str] = {}
    lines = []
    for line in text.splitlines():
        m = re.match(r"\s*#define\s+(\$\w+)\s+(\S+)\s*$", line)
        if m:
            defines[m.group(1)] = m.group(2)
        elif line.strip().startswith("#"):
            raise SampledKitError(f"kit {name}: {path}: unsupported directive {line.strip()[:40]!r}")
        else:
            lines.append(line)
    text = "\n".join(lines)
    for var in sorted(defines, key=len, reverse=True):
        text = text.replace(var, defines[var])
    if "$" in text:
        at = text.index("$")
        raise SampledKitError(f"kit {name}: {path}: undefined variable {text[at:at + 20].split()[0]!r}")

    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        raise SampledKitError(f"kit {name}: {path}: no SFZ headers or opcodes")
    if text[: tokens[0].start()].strip():
        raise SampledKitError(f"kit {name}: {path}: text before the first header: "
                              f"{text[:tokens[0].start()].strip()[:40]!r}")
    # Each header level holds its opcodes; a <region> inherits global < master < group < its own.
    reset = {"global": ("global", "master", "group"), "master": ("master", "group"), "group": ("group",),
             "control": ("control",), "region": ()}
    levels: dict[str, dict[str, str]] = {h: {} for h in _HEADERS}
    header, ignored = None, False
    flat: list[dict[str, str]] = []
    for i, tok in enumerate(tokens):
        end = tokens[i + 1].start() if i + 1 < len(tokens) else len(text)
        rest = text[tok.end():end]
        if tok.group(1):  # a header
            h = tok.group(1)
            if rest.strip():
                raise SampledKitError(f"kit {name}: {path}: stray text after <{h}>: {rest.strip()[:40]!r}")
            if h in _IGNORED_HEADERS:
                header, ignored = None, True
                continue
            if h not in _HEADERS:
                raise SampledKitError(f"kit {name}: {path}: unknown header <{h}>")
            header, ignored = h, False
            for lvl in reset[h]:
                levels[lvl] = {}
            if h == "region":
                flat.append({**levels["global"], **levels["master"], **levels["group"]})
            continue
        opcode, words = tok.group(2), rest.split()
        text_valued = opcode in ("sample", "default_path") or "label" in opcode  # values may hold spaces
        if not text_valued and len(words) != 1:
            raise SampledKitError(f"kit {name}: {path}: malformed opcode {opcode}={rest.strip()[:40]!r}")
        if header is None:
            if ignored:
                continue
            raise SampledKitError(f"kit {name}: {path}: opcode {opcode} before any header")
        value = rest.strip() if text_valued else words[0]
        (flat[-1] if header == "region" else levels[header])[opcode] = value
    kit = SampleKit(name, path, "sfz", {}, doubts=_opcode_doubts(name, path, tokens))
    base = path.parent / levels["control"].get("default_path", "").replace("\\", "/")
    for n, ops in enumerate(flat, 1):
        try:
            region, keys = _sfz_region(ops, base)
        except (ValueError, KeyError) as exc:
            raise SampledKitError(f"kit {name}: {path}: region {n}: {exc}") from None
        for key in keys:
            kit.instruments.setdefault(key, Instrument(key, f"key {key}", [], "all")).regions.append(region)
    if not kit.instruments:
        raise SampledKitError(f"kit {name}: {path}: no regions")
    return kit


#: The SFZ opcodes :func:`_sfz_region` and the reader use (``amp_velcurve_N`` by its prefix).
SFZ_OPCODES_READ = frozenset((
    "sample", "default_path", "key", "lokey", "hikey", "lovel", "hivel", "volume", "group_volume", "master_volume",
    "global_volume", "amplitude", "amp_veltrack", "seq_length", "seq_position", "lorand", "hirand", "pan", "tune",
    "transpose", "group", "off_by", "off_time", "offset",
))


#: Standard SFZ opcodes drumtx ignores that are as near one it reads as a typo would be.
SFZ_NEAR_BUT_STANDARD = frozenset(("ampeg_veltrack",))  # (amp_veltrack: ratio 0.92)


def _opcode_doubts(name: str, path: Path, tokens) -> list[str]:
    """One line per opcode of the file that drumtx does not read but that is one slip from one it
    does (difflib ratio >= 0.85: ``hivell``, ``seq_lenght``, ``offby``). The SFZ format has
    hundreds of opcodes, which drumtx ignores by design (CC modulation, envelopes, filters); of
    the common ones (tests/test_synth_sampled.py) only ``ampeg_veltrack`` is that near one it reads
    (:data:`SFZ_NEAR_BUT_STANDARD`; ``fil_veltrack`` against ``amp_veltrack`` is 0.75), so a near
    miss is most likely a typo that silently changes the kit."""
    import difflib

    seen = dict.fromkeys(t.group(2) for t in tokens if t.group(2))
    out = []
    for opcode in seen:
        if opcode in SFZ_OPCODES_READ or opcode in SFZ_NEAR_BUT_STANDARD or opcode.startswith("amp_velcurve_"):
            continue
        near = difflib.get_close_matches(opcode, SFZ_OPCODES_READ, n=1, cutoff=0.85)
        if near:
            out.append(f"kit {name}: {path}: opcode {opcode} is not one drumtx reads, so it is ignored; "
                       f"did you mean {near[0]}?")
    return out


def _sfz_region(ops: dict[str, str], base: Path) -> tuple[Region, list[int]]:
    sample = ops.get("sample")
    if sample is None:
        raise ValueError("no sample")
    sample = sample.replace("\\", "/")
    if sample.startswith("*"):
        if sample != "*silence":
            raise ValueError(f"generated sample {sample} is not supported (only *silence)")
        spath = None
    else:
        spath = base / sample
    if "key" in ops:
        lo = hi = _key(ops["key"])
    else:
        lo, hi = _key(ops.get("lokey", "0")), _key(ops.get("hikey", "127"))
    if not 0 <= lo <= hi <= 127:
        raise ValueError(f"key range {lo}..{hi} not in 0..127")
    f = float
    db = sum(f(ops.get(k, 0)) for k in ("volume", "group_volume", "master_volume", "global_volume"))
    gain = 10 ** (db / 20) * f(ops.get("amplitude", 100)) / 100
    curve = tuple(sorted((f(k.rsplit("_", 1)[1]), f(v)) for k, v in ops.items() if k.startswith("amp_velcurve_")))
    lovel, hivel = f(ops.get("lovel", 0)), f(ops.get("hivel", 127))
    if not 0 <= lovel <= hivel <= 127:
        raise ValueError(f"velocity range {lovel}..{hivel} not in 0..127")
    seq_length, seq_position = int(ops.get("seq_length", 1)), int(ops.get("seq_position", 1))
    if seq_length < 1 or not 1 <= seq_position <= seq_length:
        raise ValueError(f"seq_position {seq_position} outside seq_length {seq_length}")
    region = Region(
        sample=spath, lovel=lovel, hivel=hivel, gain=gain,
        pan=max(-1.0, min(1.0, f(ops.get("pan", 0)) / 100)),
        semitones=f(ops.get("tune", 0)) / 100 + f(ops.get("transpose", 0)),
        seq_length=seq_length, seq_position=seq_position,
        lorand=f(ops.get("lorand", 0)), hirand=f(ops.get("hirand", 1)),
        group=int(ops.get("group", 0)), off_by=int(ops.get("off_by", 0)),
        off_time=f(ops["off_time"]) if "off_time" in ops else None,
        velcurve=curve, veltrack=f(ops.get("amp_veltrack", 100)) / 100, offset=int(ops.get("offset", 0)),
    )
    return region, list(range(lo, hi + 1))
