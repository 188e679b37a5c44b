"""Run the user-report cases of issue 18 (C13, C15, C17, C19, C20) as their docstrings say and
check each against its right value; prints one markdown table row per check.

    python experiments/cases/check_cases.py WORK_DIR [--cases DIR] [--only C17,C13]

Each case's generator (``DIR/make_<id>.py``, default ``../shared/cases`` beside the repository)
writes its inputs under ``WORK_DIR/<id>``; the command its docstring names is run with this
interpreter (``python -m drumtx.transcribe ... --threads 1``, the packaged model); the outputs
are read back with pretty_midi / mido / configparser / json. C17 also gets 0 and -10 dBFS copies
of its take (the case writes -20 ... -60), so the levels checked are 0 ... -60 dBFS.

Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import configparser
import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
ROWS: list[tuple[str, str, str, bool]] = []


def check(case: str, what: str, got: str, ok: bool) -> None:
    ROWS.append((case, what, got, bool(ok)))


def run(*argv: str) -> int:
    """Run a command; its exit status (its stderr shown when not 0)."""
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
    return proc.returncode


def transcribe(*argv: str) -> int:
    return run(sys.executable, "-m", "drumtx.transcribe", *argv, "--threads", "1", "-q")


def generate(cases: Path, name: str, out: Path) -> None:
    assert run(sys.executable, str(cases / f"make_{name}.py"), str(out)) == 0, name


def c13(cases: Path, work: Path) -> None:
    out = work / "C13"
    generate(cases, "C13_chart_dynamics", out)
    rc = transcribe(str(out / "dyn.wav"), "-o", str(out / "out"), "--format", "midi,chart,json")
    truth = json.loads((out / "truth.json").read_text())["onsets"]  # [time, class, velocity]
    pm = pretty_midi.PrettyMIDI(str(out / "out" / "dyn.mid"))
    notes = [n for ins in pm.instruments for n in ins.notes]
    chart = mido.MidiFile(out / "out" / "dyn" / "notes.mid")
    drums = next(t for t in chart.tracks if t.name == "PART DRUMS")
    dynamics_on = any(m.type == "text" and m.text == "[ENABLE_CHART_DYNAMICS]" for m in drums)
    gems = [
        n
        for ins in pretty_midi.PrettyMIDI(str(out / "out" / "dyn" / "notes.mid")).instruments
        if ins.name == "PART DRUMS"
        for n in ins.notes
        if 96 <= n.pitch <= 100
    ]

    def near(t: float, pitches: tuple[int, ...], pool: list) -> int | None:
        hit = [n.velocity for n in pool if n.pitch in pitches and abs(n.start - t) < 0.05]
        return hit[0] if hit else None

    midi = {"ghost": [], "backbeat": []}
    gem = {"ghost": [], "backbeat": []}
    for t, c, v in truth:
        if c == "snare":
            kind = "ghost" if v == 32 else "backbeat"
            midi[kind].append(near(t, (37, 38, 40), notes))
            gem[kind].append(near(t, (97,), gems))
    missing = sum(v is None for k in midi for v in midi[k])
    g, b = [v for v in midi["ghost"] if v], [v for v in midi["backbeat"] if v]
    check(
        "C13",
        "exit status 0, snares found",
        f"rc {rc}, {len(g) + len(b)}/40 snares found",
        rc == 0 and not missing,
    )
    check(
        "C13",
        "MIDI: ghosts clearly softer than backbeats (max ghost < half the min backbeat)",
        f"ghost velocity {min(g)}..{max(g)}, backbeat {min(b)}..{max(b)}",
        max(g) < 0.5 * min(b),
    )
    gc, bc = collections.Counter(gem["ghost"]), collections.Counter(gem["backbeat"])
    check(
        "C13",
        "chart: ghost snares ghosts (1) or at least not accents; backbeats accents or normal",
        f"[ENABLE_CHART_DYNAMICS] {'on' if dynamics_on else 'off'}; ghosts {dict(gc)}, backbeats {dict(bc)}",
        127 not in gc and None not in gc and set(bc) <= {100, 127},
    )


def c15(cases: Path, work: Path) -> None:
    out = work / "C15"
    generate(cases, "C15_tempo_change", out)
    rc = transcribe(str(out), "-o", str(out / "out"), "--format", "midi,chart,json")
    check("C15", "exit status 0", f"rc {rc}", rc == 0)
    for name in ("step90to140", "step140to90", "step120to100"):
        truth = json.loads((out / f"{name}.truth.json").read_text())
        beats, section = np.array(truth["beats"]), np.array(truth["section"])
        est = pretty_midi.PrettyMIDI(str(out / "out" / f"{name}.mid")).get_beats()
        cells, ok = [], True
        for k, (bpm, _) in enumerate(truth["segments"]):
            true = beats[section == k]
            mine = est[(est >= true[0] - 0.1) & (est <= true[-1] + 0.1)]
            on = float(np.mean([np.min(np.abs(true - x)) <= 0.07 for x in mine])) if mine.size else 0.0
            tempo = 60 / float(np.median(np.diff(mine))) if mine.size > 1 else 0.0
            ratio = tempo / bpm
            ok &= on >= 0.9 and any(abs(ratio - r) <= 0.05 * r for r in (0.5, 1.0, 2.0))
            cells.append(
                f"{bpm} bpm: {on:.0%} of {mine.size} MIDI beats on true beats, median {tempo:.1f} bpm"
            )
        check(
            "C15",
            f"{name}: per section MIDI beats on the true beats, tempo ~ the true one",
            "; ".join(cells),
            ok,
        )


def c17(cases: Path, work: Path) -> None:
    out = work / "C17"
    generate(cases, "C17_quiet", out)
    x, sr = sf.read(out / "peak-20dBFS.wav", dtype="float32")
    for db in (0, -10):  # the case writes -20 ... -60; 0 and -10 from its float take
        sf.write(out / f"peak{db:+d}dBFS.wav", x * np.float32(10 ** ((db + 20) / 20)), sr, subtype="FLOAT")
    rc = transcribe(str(out), "-o", str(out / "out"), "--format", "json")
    check("C17", "exit status 0", f"rc {rc}", rc == 0)
    truth = json.loads((out / "truth.json").read_text())["onsets"]
    n_true = collections.Counter(c for _, c in truth)
    files = sorted(out.glob("peak*.wav"), key=lambda p: (-int(p.stem[4:7].replace("d", "")), p.stem))
    ref = None
    for f in files:
        doc = json.loads((out / "out" / f"{f.stem}.json").read_text())
        notes = [(o["time"], o["class"], o["variation"], o["velocity"]) for o in doc["onsets"]]
        ref = (notes, doc["beats"]) if ref is None else ref
        counts = collections.Counter(c for _, c, _, _ in notes)
        # Velocity within one MIDI step, as tests/test_dynamics.py holds it: the cached features
        # are float16, so a quieter take's may differ by one float16 step (tests/test_inference.py),
        # which moves the velocity output by ~1e-4 and can flip its rounding at .5.
        same_notes = [n[:3] for n in notes] == [n[:3] for n in ref[0]] and doc["beats"] == ref[1]
        off = [abs(n[3] - r[3]) for n, r in zip(notes, ref[0], strict=False)] if same_notes else []
        same = same_notes and max(off, default=0) <= 1
        check(
            "C17",
            f"{f.stem[4:]}: the same onsets (time, class, variation; velocity within 1) and beats as the 0 dBFS take",
            ", ".join(f"{c} {counts[c]}/{n_true[c]}" for c in ("kick", "snare", "hihat"))
            + (", DIFFERENT" if not same else ", identical" if not any(off) else f", {sum(map(bool, off))} velocities 1 off"),
            same,
        )


def c19(cases: Path, work: Path) -> None:
    out = work / "C19"
    generate(cases, "C19_unicode_name", out)
    rc = transcribe(str(out), "-o", str(out / "out"), "--format", "midi,chart,csv")
    stems = sorted(p.stem for p in out.glob("*.wav"))
    got = []
    for s in stems:
        mid = out / "out" / f"{s}.mid"
        folder = out / "out" / s
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(folder / "song.ini", encoding="utf-8")
        ok = (
            mid.is_file()
            and mido.MidiFile(mid, charset="utf-8").tracks[0].name == s
            and mido.MidiFile(folder / "notes.mid", charset="utf-8").tracks[0].name == s
            and (folder / "song.wav").is_file()
            and ini["song"]["name"] == s
            and (out / "out" / f"{s}.csv").is_file()
        )
        got.append(ok)
    check(
        "C19",
        "five .mid, five chart folders (notes.mid, song.ini, song.wav), five CSVs; names verbatim (UTF-8 MIDI meta text)",
        f"rc {rc}; {sum(got)}/{len(stems)} complete with the name verbatim",
        rc == 0 and all(got) and len(stems) == 5,
    )


def c20(cases: Path, work: Path) -> None:
    out = work / "C20"
    generate(cases, "C20_percent_name", out)
    rc1 = transcribe(str(out / "100% Drums.wav"), "-o", str(out / "out"), "--format", "midi,chart,csv")
    rc2 = transcribe(
        str(out / "plain.wav"), "-o", str(out / "out2"), "--format", "chart", "--artist", "AC%DC"
    )

    def song(folder: Path) -> configparser.SectionProxy:
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(folder / "song.ini", encoding="utf-8")
        return ini["song"]

    a = out / "out" / "100% Drums"
    complete = all((a / f).is_file() for f in ("notes.mid", "song.ini", "song.wav"))
    check(
        "C20",
        "'100% Drums.wav': complete chart folder, MIDI and CSV; name verbatim",
        f"rc {rc1}; chart {'complete' if complete else 'INCOMPLETE'}, name {song(a)['name']!r}, "
        f"csv {(out / 'out' / '100% Drums.csv').is_file()}",
        rc1 == 0
        and complete
        and song(a)["name"] == "100% Drums"
        and (out / "out" / "100% Drums.csv").is_file(),
    )
    b = out / "out2" / "plain"
    check(
        "C20",
        "--artist 'AC%DC': complete chart folder, artist verbatim",
        f"rc {rc2}; artist {song(b)['artist']!r}, files {sorted(p.name for p in b.iterdir())}",
        rc2 == 0 and song(b)["artist"] == "AC%DC" and (b / "song.wav").is_file(),
    )


CASES = {"C13": c13, "C15": c15, "C17": c17, "C19": c19, "C20": c20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--cases", type=Path, default=REPO.parent / "shared" / "cases")
    ap.add_argument("--only", default=",".join(CASES))
    args = ap.parse_args()
    for name in args.only.split(","):
        CASES[name](args.cases, args.work)
    print("| case | right value | got | holds |")
    print("|---|---|---|---|")
    for case, what, got, ok in ROWS:
        print(f"| {case} | {what} | {got} | {'yes' if ok else '**no**'} |")
    return 0 if all(ok for *_, ok in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
