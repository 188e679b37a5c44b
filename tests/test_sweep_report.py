"""drumtx.evaluation.sweep_report ranks a study's trials and judges the best against the baseline's seed spread."""

import json

import optuna
import pytest
from optuna.distributions import FloatDistribution

from drumtx.evaluation import sweep_report


def metrics(path, value, onset_f=0.5):
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(
        {"value": value, "final": {"val/pr_auc_mean": value, "val/onset_f_mean": onset_f, "val/inst/tom/pr_auc": 0.4}}))
    return path / "metrics.json"


@pytest.fixture
def study(tmp_path):
    """Baseline trial 0 (0.70), then three trials; trial 2 is best (0.74)."""
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    s = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    dist = {"loss.crash": FloatDistribution(0.1, 2.0, log=True)}
    for n, (crash, value) in enumerate([(0.6, 0.70), (0.3, 0.69), (1.2, 0.74), (2.0, 0.71)]):
        out = tmp_path / f"trial{n}"
        metrics(out, value)
        s.add_trial(optuna.trial.create_trial(params={"loss.crash": crash}, distributions=dist, value=value,
                                              user_attrs={"output_dir": str(out)}))
    return storage, tmp_path


@pytest.mark.parametrize(("base_reruns", "best_reruns", "expected"), [
    ([], [], "no seed spread"),
    ([0.705], [], "single run"),
    ([0.705], [0.735], "beat the baseline"),
    ([0.75], [0.72], "No trial is shown to beat the baseline"),
])
def test_verdict_follows_the_seed_spread(study, base_reruns, best_reruns, expected, tmp_path, capsys):
    storage, root = study
    args = ["--study", "s", "--storage", storage, "-o", str(root / "out")]
    args += [f"--baseline-run=seed{i}={metrics(root / f'b{i}', v)}" for i, v in enumerate(base_reruns)]
    args += [f"--best-run=seed{i}={metrics(root / f'x{i}', v)}" for i, v in enumerate(best_reruns)]
    assert sweep_report.main(args) == 0
    md = (root / "out" / "sweep.md").read_text()
    assert expected in md
    assert md.index("| 1 | 2 | 0.7400 | +0.0400 | 1.200 |") < md.index("| 2 | 3 | 0.7100 |")
    assert "| 3 | 0 (baseline) | 0.7000 | +0.0000 | 0.600 | 0.500 |" in md
    summary = json.loads((root / "out" / "sweep.json").read_text())
    assert summary["best"]["trial"] == 2 and summary["baseline"]["values"] == [0.70, *base_reruns]
    assert (root / "out" / "figures" / "params.png").stat().st_size > 1000


def test_trials_that_all_score_the_same_get_a_report_without_importances(tmp_path, capsys):
    """A new user's trial: a 4-trial machinery check (every value equal) crashed in fANOVA with
    "Encountered zero total variance in all trees" and wrote no report."""
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    s = optuna.create_study(study_name="flat", storage=storage, direction="maximize")
    dist = {"loss.crash": FloatDistribution(0.1, 2.0, log=True)}
    for n, crash in enumerate([0.6, 0.3, 1.2, 2.0]):
        s.add_trial(optuna.trial.create_trial(params={"loss.crash": crash}, distributions=dist, value=0.5,
                                              user_attrs={"output_dir": str(metrics(tmp_path / f"t{n}", 0.5).parent)}))
    assert sweep_report.main(["--study", "flat", "--storage", storage, "-o", str(tmp_path / "out")]) == 0
    assert "no parameter importances: the trials' values do not vary" in capsys.readouterr().err
    assert "Parameter importances" not in (tmp_path / "out" / "sweep.md").read_text()


def test_print_best_gives_overrides_to_rerun(study, capsys):
    storage, _ = study
    assert sweep_report.main(["--study", "s", "--storage", storage, "--print-best"]) == 0
    assert capsys.readouterr().out.strip() == "loss.crash=1.2"


def test_a_trial_with_an_unreadable_metrics_file_is_reported_without_its_extra_columns(study, capsys):
    storage, root = study
    (root / "trial3" / "metrics.json").write_text("{not json")
    assert sweep_report.main(["--study", "s", "--storage", storage, "-o", str(root / "out")]) == 0
    assert "warning: trial 3: " in capsys.readouterr().err
    md = (root / "out" / "sweep.md").read_text()
    assert "| 2 | 3 | 0.7100 | +0.0100 | 2.000 | – |" in md and "| 1 | 2 | 0.7400 | +0.0400 | 1.200 | 0.500 |" in md


def test_bad_input_is_one_line(study, capsys):
    storage, root = study
    assert sweep_report.main(["--study", "nope", "--storage", storage, "-o", str(root / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"drumtx.evaluation.sweep_report: no study 'nope' in {storage} (studies: s)"
    optuna.create_study(study_name="loss_weights", storage=storage)
    assert sweep_report.main(["--study", "loss_weight", "--storage", storage, "-o", str(root / "o")]) == 2
    assert capsys.readouterr().err.strip().endswith("(did you mean loss_weights? studies: loss_weights, s)")
    assert sweep_report.main(["--study", "s", "--storage", storage, "-o", str(root / "o"), "--best-run", "x"]) == 2
    assert "NAME=path/to/metrics.json" in capsys.readouterr().err
    assert sweep_report.main(["--study", "s", "--storage", storage, "-o", str(root / "o"),
                              "--baseline-trial", "9"]) == 2
    assert "baseline trial 9 is not a complete trial" in capsys.readouterr().err


def test_a_missing_study_database_is_one_line_and_is_not_created(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default storage, sqlite:///multirun/optuna.db, is relative
    for args in (["--print-best"], ["--storage", f"sqlite:///{tmp_path / 'none' / 'x.db'}", "-o", "out"]):
        assert sweep_report.main(["--study", "x", *args]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("drumtx.evaluation.sweep_report: sqlite:///") and "no such study database" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither multirun/ nor none/ nor out/


@pytest.mark.parametrize(("storage", "expected"), [
    ("bogus", "bogus: not a database URL"),
    ("postgresql+psycopg://me:s3cret@127.0.0.1:1/db", "postgresql+psycopg://me:***@127.0.0.1:1/db: cannot connect"),
])
def test_a_storage_that_cannot_be_opened_is_one_line_naming_it_password_hidden(storage, expected, capsys):
    if storage.startswith("postgresql"):
        pytest.importorskip("psycopg")
    assert sweep_report.main(["--study", "x", "--storage", storage, "--print-best"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("drumtx.evaluation.sweep_report: ")
    assert expected in err and "s3cret" not in err


def test_a_file_that_is_not_a_study_database_is_one_line(tmp_path, capsys):
    (tmp_path / "x.db").write_text("not sqlite\n" * 100)
    assert sweep_report.main(["--study", "x", "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--print-best"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot open the study database (file is not a database)" in err
