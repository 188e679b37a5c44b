"""drumtx.evaluation.summary lines up evaluation reports against the first one."""

import json

import pytest

from drumtx.evaluation import summary


def report(kick_f: float, crash_p: float, kit_f: dict[str, float]) -> dict:
    def level(f):
        return {"classes": {"kick": {"f_measure": f, "precision": f}, "crash": {"f_measure": 0.5, "precision": crash_p,
                                                                     "pr_auc": crash_p / 2}},
                "overall": {"micro": {"f_measure": f}}}

    return {
        "info": {"checkpoint": "run/best.safetensors"}, "n_tracks": 3, "settings": {"window_s": 0.05},
        "levels": {"instrument": level(kick_f)},
        "variation_accuracy": {"hihat": {"accuracy": 0.9}},
        "slices": {"groups": {"kit_name": {k: {"overall": {"micro": {"f_measure": f}},
                                                  "classes": {"crash": {"precision": crash_p, "recall": f, "n_ref": 10,
                                                                        "n_est": 7, "false_positives": 3}}}
                                              for k, f in kit_f.items()}}},
    }


def test_deltas_are_against_the_first_report():
    md, numbers, series = summary.summarize(
        {"base": report(0.60, 0.70, {"unseen:a": 0.5}), "arm": report(0.65, 0.60, {"unseen:a": 0.4, "unseen:b": 0.3})},
        "t")
    assert "| kick F | 60.0% | 65.0% (+5.0) |" in md
    assert "| crash precision | 70.0% | 60.0% (-10.0) |" in md
    assert "| crash frame PR-AUC | 35.0% | 30.0% (-5.0) |" in md
    assert "| unseen:a | 50.0% | 40.0% (-10.0) |" in md
    assert "| unseen:b | – | 30.0% |" in md  # a kit only one report has
    assert "| unseen:a | 70.0% / 50.0% (3) | 60.0% / 40.0% (3) |" in md  # the crash per kit
    assert "| unseen:b | – | 60.0% / 30.0% (3) |" in md
    assert numbers["reference"] == "base" and numbers["rows"]["arm"]["hihat variation accuracy"] == 0.9
    assert series["instruments"][0] == ["kick", "crash", "all instruments"]


def test_cli_writes_table_and_figures(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report(0.6, 0.7, {"k": 0.5})))
    b.write_text(json.dumps(report(0.7, 0.7, {"k": 0.6})))
    assert summary.main(["-o", str(tmp_path / "out"), f"base={a}", f"arm={b}"]) == 0
    assert (tmp_path / "out" / "summary.md").read_text().count("figures/") == 2
    assert (tmp_path / "out" / "figures" / "kit_f.png").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["kits"]["arm"]["k"] == 0.6
    (tmp_path / "report_b").mkdir()  # a fresh user's trial: a report folder was refused
    b.rename(tmp_path / "report_b" / "metrics.json")
    assert summary.main(["-o", str(tmp_path / "out"), f"base={a}", f"arm={tmp_path / 'report_b'}"]) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["kits"]["arm"]["k"] == 0.6


@pytest.mark.parametrize("spec", ["no-equals-sign", "x={missing}", "x={notjson}"])
def test_cli_refuses_bad_reports_in_one_line(spec, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    spec = spec.format(missing=tmp_path / "nope.json", notjson=tmp_path / "bad.json")
    with pytest.raises(SystemExit) as exc:
        summary.main(["-o", str(tmp_path / "out"), spec])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drumtx.evaluation.summary: ") and "error:" not in err[0], err


@pytest.mark.parametrize("out", ["{file}", "{file}/sub", None])
def test_cli_usage_and_output_errors_are_one_line_with_one_prefix(out, tmp_path, capsys):
    """-o naming a file gave a NotADirectoryError traceback; argparse said 'drumtx-x: error:'."""
    a = tmp_path / "a.json"
    a.write_text(json.dumps(report(0.6, 0.7, {"k": 0.5})))
    argv = [f"base={a}"] + (["-o", out.format(file=a)] if out else [])
    with pytest.raises(SystemExit) as exc:
        summary.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drumtx.evaluation.summary: ") and "error:" not in err[0], err


def counted(m: dict, crash: dict, tracks: list[str]) -> dict:
    """``m`` with a crash row of counts, as drumtx.evaluate writes them, and its track list."""
    m["levels"]["instrument"]["classes"]["crash"] = crash
    m["tracks"] = [{"track": t} for t in tracks]
    m["n_tracks"] = len(tracks)
    return m


def test_undefined_scores_and_other_tracks(tmp_path, capsys):
    """A crash with no reference and no estimate read 'crash F 100.0%' and 'crash precision
    100.0%' (older metrics.json store 1.0 for it), a ride from 0 to 'nothing' +100.0, and a
    report on 2 tracks was compared with one on 4 without a word."""
    old_empty = {"precision": 1.0, "recall": 1.0, "f_measure": 1.0, "tp": 0, "n_ref": 0, "n_est": 0}
    false_only = {"precision": 0.0, "recall": 0.0, "f_measure": 0.0, "tp": 0, "n_ref": 0, "n_est": 4}
    files = {}
    for name, crash, tracks in (("base", false_only, ["t1", "t2", "t3", "t4"]), ("arm", old_empty, ["t1", "t2", "t3", "t4"]),
                                ("few", old_empty, ["t1", "t2"])):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(counted(report(0.6, 0.7, {"k": 0.5}), dict(crash), tracks)))
    assert summary.main(["-o", str(tmp_path / "out"), *(f"{n}={f}" for n, f in files.items())]) == 0
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| crash F | 0.0% | – | – |" in md and "| crash precision | 0.0% | – | – |" in md
    assert "100.0" not in md
    assert "| few † |" in md.splitlines()[4] and "**few** (2 tracks against 4 of base, 2 in common)" in md
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["drumtx.evaluation.summary: warning: few was scored on other tracks than base "
                   "(2 tracks against 4 of base, 2 in common); its changes compare different tracks"]
    numbers = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert numbers["rows"]["arm"]["crash F"] is None and list(numbers["other_tracks"]) == ["few"]
    # Reports without a track list are told apart by their count.
    assert summary.track_mismatches({"a": {"n_tracks": 4}, "b": {"n_tracks": 2}, "c": {"n_tracks": 4}}) == {
        "b": "2 tracks against 4 of a"}
