"""drumtx.evaluation.aims: aims read from the per-kit slices of evaluation reports."""

from __future__ import annotations

import json

import pytest

from drumtx.evaluation import aims as A
from drumtx.synth.kits import load_kits

KITS = load_kits()
ACOUSTIC = [n for n, k in KITS.items() if k.sampled and k.kind == "acoustic"][:2]
ELECTRONIC = next(n for n, k in KITS.items() if k.sampled and k.kind == "electronic")
SOUNDFONT = next(n for n, k in KITS.items() if not k.sampled)
AIMS = {"kits": {"unseen": True, "sampled": True, "kinds": ["acoustic"]},
        "drum_only": {"f": {"kick": 0.9}, "precision": {"crash": 0.85}},
        "with_music": {"f": {"kick": 0.85}},
        "music_alone": {"onsets_per_minute_below": 6.0}}


def slice_(tp: int, n_ref: int, n_est: int, inst: str = "kick", minutes: float | None = None) -> dict:
    g = {"classes": {inst: {"tp": tp, "n_ref": n_ref, "n_est": n_est}},
         "overall": {"micro": {"tp": tp, "n_ref": n_ref, "n_est": n_est}}}
    if minutes is not None:
        g["overall"]["minutes"] = minutes
    return g


def report(groups: dict, duration_s: float = 600.0) -> dict:
    return {"duration_s": duration_s, "levels": {"instrument": {"classes": {}}},
            "slices": {"groups": {"kit_name": groups}}}


def test_pools_only_the_aims_kits_and_reads_music_alone():
    assert len(ACOUSTIC) == 2
    b = report({f"unseen:{ACOUSTIC[0]}": slice_(8, 10, 10), f"unseen:{ACOUSTIC[1]}": slice_(1, 10, 2),
                f"unseen:{ELECTRONIC}": slice_(0, 50, 0),     # electronic: not pooled
                f"unseen:{SOUNDFONT}": slice_(0, 50, 0),      # a sound font: not pooled
                ACOUSTIC[0]: slice_(0, 50, 0)})               # a training kit: not pooled
    c = report({f"unseen:{ACOUSTIC[0]}+music": slice_(17, 20, 20)})
    d = report({"unseen:none+music": slice_(0, 0, 30, "hihat", minutes=5.0)})
    m = A.read_model([("b", b), ("c", c), ("d", d)], AIMS, KITS)
    assert m["kits"]["drum_only"] == sorted(f"unseen:{k}" for k in ACOUSTIC)
    kick = m["drum_only"]["kick"]
    assert (kick["tp"], kick["n_ref"], kick["n_est"]) == (9, 20, 12)
    assert kick["f"] == pytest.approx(2 * 9 / 32) and kick["precision"] == pytest.approx(9 / 12)
    assert m["with_music"]["kick"]["f"] == pytest.approx(17 / 20)
    assert m["music_alone"]["onsets_per_minute"] == pytest.approx(6.0)
    rows = {r["aim"]: r["models"]["m"] for r in A.verdicts(AIMS, {"m": m})}
    assert rows["drum-only: kick F"] == {"value": pytest.approx(18 / 32), "met": False}
    assert rows["with-music: kick F"]["met"] is True                 # 0.85 >= 0.85
    assert rows["music alone: onsets per minute"]["met"] is False    # 6.0 is not under 6
    assert rows["drum-only: crash precision"] == {"value": None, "met": None}  # no crash: not measured


def test_older_reports_minutes_and_a_slice_twice():
    # no stored minutes: the slice's tracks' lengths, else from its false positives per minute
    g = slice_(0, 0, 12, "kick")
    g["overall"]["fp_per_minute"] = 3.0
    m = A.read_model([("d", report({"unseen:none+music": g}))], AIMS, KITS)
    assert m["music_alone"]["minutes"] == pytest.approx(4.0)
    d = report({"unseen:none+music": slice_(0, 0, 0), "none+music": slice_(0, 0, 0)})
    d["tracks"] = [{"kit_name": "unseen:none+music", "duration_s": 90.0}, {"kit_name": "unseen:none+music",
                   "duration_s": 30.0}, {"kit_name": "none+music", "duration_s": 600.0}]
    m = A.read_model([("d", d)], AIMS, KITS)  # no onset at all: 0 per minute, not "not measured"
    assert m["music_alone"]["minutes"] == pytest.approx(2.0) and m["music_alone"]["onsets_per_minute"] == 0.0
    b = report({f"unseen:{ACOUSTIC[0]}": slice_(1, 1, 1), "unseen:no_such_kit": slice_(1, 1, 1)})
    with pytest.raises(A.AimsError, match="in two reports of one model"):
        A.read_model([("b", b), ("b again", b)], AIMS, KITS)
    broken = report({f"unseen:{ACOUSTIC[0]}": slice_(1, 1, 1)})
    broken["slices"]["groups"]["kit_name"][f"unseen:{ACOUSTIC[0]}"]["classes"]["kick"]["tp"] = None
    with pytest.raises(A.AimsError, match="tp is None, not a count"):  # not silently 0
        A.read_model([("b", broken)], AIMS, KITS)
    with pytest.raises(A.AimsError, match="b is given twice"):
        A.read_model([("b", b), ("b", b)], AIMS, KITS)
    m = A.read_model([("b", b)], AIMS, KITS)
    assert m["unknown_kits"] == ["unseen:no_such_kit"] and m["kits"]["drum_only"] == [f"unseen:{ACOUSTIC[0]}"]
    trained = {**AIMS, "kits": {"unseen": False, "sampled": True}}
    assert A.read_model([("b", b)], trained, KITS)["unknown_kits"] == []  # the unseen rule leaves it out anyway
    # a rule left null asks nothing: unseen null pools training and unseen kits, and either music
    either = {**AIMS, "kits": {"unseen": None, "sampled": True, "kinds": ["acoustic"]}}
    b2 = report({f"unseen:{ACOUSTIC[0]}": slice_(1, 1, 1), ACOUSTIC[1]: slice_(1, 1, 1),
                 "none+music": slice_(0, 0, 2, minutes=1.0)})
    m = A.read_model([("b", b2)], either, KITS)
    assert m["kits"]["drum_only"] == sorted([f"unseen:{ACOUSTIC[0]}", ACOUSTIC[1]])
    assert m["music_alone"]["onsets_per_minute"] == 2.0
    assert A.read_model([("b", b2)], AIMS, KITS)["music_alone"]["slices"] == []  # unseen: held-out music only


@pytest.mark.parametrize("text, msg", [
    ("drum_only: {f: {kick: 90}}", "not between 0 and 1"),
    ("drum_only: {f: {kick: '0.9'}}", "is not a number"),
    ("drum_only: {f: {hihats: 0.9}}", "not an instrument"),
    ("drum_only: {fscore: {kick: 0.9}}", "expected one of"),
    ("kits: {sampeld: true}\ndrum_only: {f: {kick: 0.9}}", "kits: expected a mapping with keys among"),
    ("kits: {sampled: yes please}\ndrum_only: {f: {kick: 0.9}}", "is not true, false or null"),
    ("kits: {kinds: [acustic]}\ndrum_only: {f: {kick: 0.9}}", "is not a non-empty list of"),
    ("kits: {kinds: acoustic}\ndrum_only: {f: {kick: 0.9}}", "is not a non-empty list of"),
    ("music_alone: {max_onset_per_minute: 6}", "music_alone: expected a mapping with the key"),
    ("music_alone: {onsets_per_minute_below: -1}", "is not a number above 0"),
    ("kits: {unseen: true}", "no aim in it"),
    ("", "not a mapping of aims"),
    ("just a string", "not a mapping of aims"),
    ("mystery: 1", "unknown keys"),
    ("drum_only:\n  f: {kick: 0.9}\n  f: {kick: 0.5}", "keys given twice"),
    ("music_alone: {onsets_per_minute_below: 0}", "is not a number above 0"),
])
def test_a_typo_in_the_aims_is_an_error(tmp_path, text, msg):
    path = tmp_path / "aims.yaml"
    path.write_text(text + "\n")
    with pytest.raises(A.AimsError, match=msg):
        A.load_aims(path)
    assert A.load_aims(A.DEFAULT_AIMS)["music_alone"]["onsets_per_minute_below"] == 6.0


def electronic(tmp_path):
    path = tmp_path / "electronic.yaml"
    path.write_text("kits: {unseen: true, kinds: [electronic]}\ndrum_only: {f: {kick: 0.9}}\n")
    return path


def test_cli_writes_the_table_and_refuses_bad_input(tmp_path, capsys):
    b = tmp_path / "b.json"
    b.write_text(json.dumps(report({f"unseen:{ACOUSTIC[0]}": slice_(9, 10, 10)})))
    out = tmp_path / "aims"
    assert A.main([f"v2={b}", f"other={b}", "-o", str(out)]) == 0
    md = (out / "aims.md").read_text()
    assert "| drum-only: kick F | >= 90% | 90.0% ✓ | 90.0% ✓ |" in md and "conf/aims/default_model_v2.yaml" in md
    assert json.loads((out / "aims.json").read_text())["models"]["v2"]["drum_only"]["kick"]["tp"] == 9
    assert "**v2** 1 of 1 (10 not measured)" in md and "- every model: drum-only" in md
    capsys.readouterr()
    assert A.main([f"v2={b}", f"a={tmp_path / 'b.json'}", "-o", str(out), "--aims", str(electronic(tmp_path))]) == 0
    err = capsys.readouterr().err
    assert "warning: v2: no kit slice of its reports matches" in err and "warning: a:" in err
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps({**report({}), "slice_level": "fine"}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("drum_only: {f: {kick: 90}}\n")
    for argv, msg in (([f"v2={b}", "-o", str(out), "--aims", str(bad)], "not between 0 and 1"),
                      ([str(b), "-o", str(out)], "expected NAME=METRICS_JSON"),
                      ([f"v2={tmp_path / 'none.json'}", "-o", str(out)], "not a drumtx.evaluate metrics.json"),
                      ([f"v2={fine}", "-o", str(out)], "scored per fine, the aims per instrument"),
                      ([f"v2={b}", "-o", str(b)], "not a folder")):
        with pytest.raises(SystemExit) as exc:
            A.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0] and err[0].startswith("drumtx.evaluation.aims")


def test_sound_font_drum_machines_are_electronic():
    """kinds: [electronic] holds the sound fonts' 808 and electronic programs beside the
    sampled and synthesised drum machines; their acoustic programs stay general-midi."""
    rule = {"unseen": True, "kinds": ["electronic"]}
    assert KITS["timgm6mb_tr808"].kind == KITS["timgm6mb_electronic"].kind == "electronic"
    assert KITS["fluidr3_tr808"].kind == KITS["musescore_electronic"].kind == "electronic"
    assert KITS["timgm6mb_standard"].kind == "general-midi"
    picked = [k for k in ("timgm6mb_tr808", "timgm6mb_electronic", "timgm6mb_standard", ELECTRONIC)
              if A.kit_matches(A.KitName.parse(f"unseen:{k}"), rule, KITS)]
    assert picked == ["timgm6mb_tr808", "timgm6mb_electronic", ELECTRONIC]
