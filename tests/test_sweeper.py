"""The Optuna sweeper plugin (hydra_plugins.drumtx_optuna_sweeper).

Fast tests run a trivial Hydra app (written into tmp_path, launched as a subprocess) whose
objective has a known optimum: the sweep finds it in a handful of trials with sqlite storage,
resumes the study, records crashed trials as failed and goes on, stops over max_failure_rate,
and fails the trial of a killed sweep when resumed. The slow test sweeps real training runs on
the tiny E-GMD fixture (3 trials, then resumed to 5 in the same study).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "drumtx" / "plugins"

try:  # installed (pip install -e .) or not: the unit tests import the plugin either way
    import hydra_plugins.drumtx_optuna_sweeper._impl  # noqa: F401
except ImportError:
    sys.path.insert(0, str(PLUGINS))

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from hydra_plugins.drumtx_optuna_sweeper._impl import (  # noqa: E402
    OptunaSweeperImpl,
    distribution_from_config,
    grid_choices,
    override_value,
    relaunch_reason,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


# --------------------------------------------------------------------------- search space
def make_impl(params=None, search_space=None) -> OptunaSweeperImpl:
    return OptunaSweeperImpl(
        sampler=None,
        direction="maximize",
        storage=None,
        study_name=None,
        n_trials=1,
        n_jobs=1,
        max_failure_rate=0.0,
        params=params,
        search_space=search_space,
        custom_search_space=None,
        heartbeat_interval=None,
        grace_period=None,
        group_env_var=None,
    )


def test_overrides_become_optuna_distributions():
    params = {
        "a": "interval(0.5, 3.0)",
        "b": "interval(1, 10)",
        "c": "tag(log, interval(1e-4, 1e-2))",
        "d": "range(1, 8)",
        "e": "range(0, 10, 3)",
        "f": "range(0.1, 0.5, 0.1)",
        "g": "choice(none, specaugment, 3)",
        "h": "shuffle(range(1, 4))",
        "fixed": "7",
        "loss.kick": "interval(0.5, 3.0)",
    }
    dists, fixed = make_impl(params).search_space_from(["loss.kick=2.0", "+extra=x", "trainer=cpu"])
    assert dists["a"] == FloatDistribution(0.5, 3.0)
    assert dists["b"] == FloatDistribution(
        1.0, 10.0
    )  # Hydra parses interval ends as floats: range() for ints
    assert dists["c"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert dists["d"] == IntDistribution(1, 7)  # range() excludes its stop, like Python
    assert dists["e"] == IntDistribution(0, 9, step=3)
    assert isinstance(dists["f"], FloatDistribution) and dists["f"].step == pytest.approx(0.1)
    assert (dists["f"].low, dists["f"].high) == pytest.approx((0.1, 0.4))
    assert dists["g"] == CategoricalDistribution(["none", "specaugment", 3])
    assert isinstance(dists["h"], CategoricalDistribution) and sorted(dists["h"].choices) == [1, 2, 3]
    # plain values are fixed; the command line wins over the config's search space
    assert "loss.kick" not in dists
    assert fixed == {
        "fixed": "fixed=7",
        "loss.kick": "loss.kick=2.0",
        "+extra": "+extra=x",
        "trainer": "trainer=cpu",
    }
    # and a sweep on the command line replaces a fixed config value
    dists, fixed = make_impl({"lr": "0.1"}).search_space_from(["lr=interval(0.01, 0.2)"])
    assert dists == {"lr": FloatDistribution(0.01, 0.2)} and fixed == {}


def test_legacy_search_space_and_grid_values():
    spec = {"type": "float", "low": 0.1, "high": 1.0, "log": True}
    assert distribution_from_config("x", spec) == FloatDistribution(0.1, 1.0, log=True)
    assert distribution_from_config("n", {"type": "int", "low": 2, "high": 8, "step": 2}) == IntDistribution(
        2, 8, step=2
    )
    assert distribution_from_config("k", {"type": "categorical", "choices": ["a", "b"]}).choices == ("a", "b")
    with pytest.raises(ValueError, match="type must be"):
        distribution_from_config("bad", {"type": "complex"})
    dists, _ = make_impl(search_space={"x": spec}).search_space_from([])
    assert dists == {"x": FloatDistribution(0.1, 1.0, log=True)}
    assert grid_choices("d", IntDistribution(1, 7, step=3)) == [1, 4, 7]
    assert grid_choices("f", FloatDistribution(0.0, 0.5, step=0.25)) == [0.0, 0.25, 0.5]
    with pytest.raises(ValueError, match="grid sampler"):
        grid_choices("c", FloatDistribution(0.0, 1.0))


@pytest.mark.parametrize(
    "value",
    ["none", "a b", "x=y", "[1,2]", "quote's", "back\\slash'", "null", "3", 1e-05, 3, True, None, 0.1 + 0.2],
)
def test_suggested_values_survive_the_override_parser(value):
    parsed = OverridesParser.create().parse_overrides([f"k={override_value(value)}"])[0]
    assert parsed.value() == value


def test_bad_settings_fail_clearly():
    with pytest.raises(ValueError, match="max_failure_rate"):
        OptunaSweeperImpl(
            sampler=None,
            direction="maximize",
            storage=None,
            study_name=None,
            n_trials=1,
            n_jobs=1,
            max_failure_rate=1.5,
            params=None,
            search_space=None,
            custom_search_space=None,
            heartbeat_interval=None,
            grace_period=None,
            group_env_var=None,
        )
    impl = make_impl()
    impl.direction = "upwards"
    with pytest.raises(ValueError, match="minimize or maximize"):
        impl._directions()


# --------------------------------------------------------------------------- packaging
def test_installed_package_registers_the_sweeper_with_hydra(tmp_path):
    """What `make setup` (pip install -e .) gives: Hydra discovers the plugin from any folder."""
    try:
        importlib.metadata.distribution("drumtx")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("drumtx is not pip-installed here")
    code = textwrap.dedent(
        """
        from hydra.core.config_store import ConfigStore
        from hydra.core.plugins import Plugins
        from hydra.plugins.sweeper import Sweeper
        names = [f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Sweeper)]
        print("SWEEPERS", names)
        print("NODES", sorted(ConfigStore.instance().list("hydra/sweeper")))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "hydra_plugins.drumtx_optuna_sweeper.optuna_sweeper.OptunaSweeper" in out.stdout, (
        "the sweeper is not discovered: reinstall with `pip install -e .` (pyproject maps drumtx/plugins)\n"
        + out.stdout
        + out.stderr
    )
    assert "optuna.yaml" in out.stdout


# --------------------------------------------------------------------------- toy sweeps
TOY_APP = """
import math, os, pathlib, time
import hydra
from hydra.core.hydra_config import HydraConfig

@hydra.main(version_base="1.3", config_path="conf", config_name="toy")
def main(cfg):
    hc = HydraConfig.get()
    out = pathlib.Path(hc.runtime.output_dir)
    (out / "group.txt").write_text(os.environ.get("WANDB_RUN_GROUP", ""))
    (out / "params.txt").write_text(f"{cfg.x!r} {cfg.kind}")
    if cfg.nan_job is not None and hc.job.num == cfg.nan_job:
        return float("nan")
    if cfg.fail_job is not None and hc.job.num == cfg.fail_job:
        raise RuntimeError("deliberate crash")
    if cfg.hang_job is not None and hc.job.num == cfg.hang_job:
        (out / "hanging").write_text("")
        time.sleep(300)
    # maximum 1.0 at x = 2, kind = b; anything with kind = a is <= 0
    return -(cfg.x - 2.0) ** 2 + (1.0 if cfg.kind == "b" else 0.0)

if __name__ == "__main__":
    main()
"""

TOY_CONFIG = """
defaults:
  - override hydra/sweeper: optuna
  - _self_
x: 0.0
kind: a
fail_job: null
hang_job: null
nan_job: null
hydra:
  sweeper:
    direction: maximize
    study_name: toy
    n_trials: 20
    sampler:
      seed: 0
      n_startup_trials: 5
      multivariate: true
    params:
      x: interval(-5.0, 5.0)
      kind: choice(a, b)
"""


@pytest.fixture
def toy(tmp_path):
    """Run the toy app's sweep: ``toy(sweep_name, *overrides)`` -> (completed process, sweep dir)."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "toy.yaml").write_text(TOY_CONFIG)
    (tmp_path / "app.py").write_text(TOY_APP)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")])),
    }

    def command(name: str, *overrides: str) -> tuple[list[str], Path]:
        sweep_dir = tmp_path / "multirun" / name
        return [
            sys.executable,
            str(tmp_path / "app.py"),
            "-m",
            f"hydra.sweep.dir={sweep_dir}",
            f"hydra.sweeper.storage={storage}",
            *overrides,
        ], sweep_dir

    def run(name: str, *overrides: str, popen: bool = False, extra_env: dict | None = None):
        cmd, sweep_dir = command(name, *overrides)
        env_ = {**env, **(extra_env or {})}
        if popen:
            # SIGINT as at a terminal: a test run started in the background (CI, nohup …&) passes
            # its ignored SIGINT on, and Python then never raises KeyboardInterrupt for it
            return subprocess.Popen(
                cmd, cwd=tmp_path, env=env_, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            ), sweep_dir
        return subprocess.run(
            cmd, cwd=tmp_path, env=env_, capture_output=True, text=True, timeout=300
        ), sweep_dir

    run.storage = storage
    run.sweep_dir = lambda name: tmp_path / "multirun" / name
    return run


def load(storage: str, name: str = "toy") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )


def states(trials) -> list[str]:
    """The trials' states by name, in trial order, e.g. ``["COMPLETE", "FAIL"]``."""
    return [t.state.name for t in trials]


def folder_params(trial) -> str:
    """What the toy job wrote into the trial's folder: its x and kind."""
    return (Path(trial.user_attrs["output_dir"]) / "params.txt").read_text()


def test_toy_sweep_finds_the_optimum_and_resumes(toy):
    import yaml

    proc, first = toy("first")
    assert proc.returncode == 0, proc.stderr
    results = yaml.safe_load((first / "optimization_results.yaml").read_text())
    # 20 trials of TPE find the optimum: kind = b is the only way above 0, then |x - 2| < 0.45
    assert results["best_value"] > 0.8, results
    assert results["best_params"]["kind"] == "b"
    assert abs(results["best_params"]["x"] - 2.0) < 0.45
    assert results["n_trials"] == results["n_complete"] == 20
    assert len(job_dirs(first)) == 20
    # every job got the study name as its W&B group
    assert {(d / "group.txt").read_text() for d in job_dirs(first)} == {"toy"}
    # best parameters printed
    assert "Best parameters" in proc.stdout + proc.stderr

    # same study, n_trials=23: 3 more trials, the first 20 kept
    proc, second = toy("second", "hydra.sweeper.n_trials=23")
    assert proc.returncode == 0, proc.stderr
    assert len(job_dirs(second)) == 3
    study = load(toy.storage)
    assert states(study.trials) == ["COMPLETE"] * 23
    results2 = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert results2["n_trials"] == 23 and results2["best_value"] >= results["best_value"]
    assert (second / "trials.csv").read_text().count("\n") == 24

    # nothing left to do: n_trials already reached
    proc, third = toy("third", "hydra.sweeper.n_trials=23")
    assert proc.returncode == 0, proc.stderr
    assert job_dirs(third) == []
    assert len(load(toy.storage).trials) == 23


def test_only_the_worker_that_creates_the_study_keeps_the_seed(toy):
    """Two workers started together both find an empty study: the second must not draw the
    first one's seeded start-up points again. A lone sweep's seed still reproduces its trials."""
    proc, _ = toy("fresh1", "hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=fresh1")
    assert proc.returncode == 0, proc.stderr
    proc, _ = toy("fresh2", "hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=fresh2")
    assert proc.returncode == 0, proc.stderr
    first = [t.params for t in load(toy.storage, "fresh1").trials]
    assert [t.params for t in load(toy.storage, "fresh2").trials] == first  # same seed, same trials
    # a study another worker has just created, still without trials: this worker reseeds
    optuna.create_study(study_name="joined", storage=toy.storage, direction="maximize")
    proc, _ = toy("joined", "hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=joined")
    assert proc.returncode == 0, proc.stderr
    joined = [t.params for t in load(toy.storage, "joined").trials]
    assert len(joined) == 2 and not any(p in first for p in joined)


def test_enqueued_trials_run_first_and_once(toy):
    """The baseline parameters are the study's first trial, and a resumed sweep does not repeat them."""
    baseline = "hydra.sweeper.enqueue_trials=[{x:1.5,kind:a}]"
    proc, _ = toy("enqueue", "hydra.sweeper.n_trials=2", baseline)
    assert proc.returncode == 0, proc.stderr
    proc, _ = toy("enqueue2", "hydra.sweeper.n_trials=3", baseline)
    assert proc.returncode == 0, proc.stderr
    trials = load(toy.storage).trials
    assert trials[0].params == {"x": 1.5, "kind": "a"} and trials[0].value == pytest.approx(-0.25)
    assert len(trials) == 3 and sum(t.params == {"x": 1.5, "kind": "a"} for t in trials) == 1
    proc, _ = toy("enqueue3", "hydra.sweeper.n_trials=4", "hydra.sweeper.enqueue_trials=[{y:1.0}]")
    assert proc.returncode != 0 and "enqueue_trials names parameters not searched: ['y']" in proc.stderr


def test_crashed_trial_is_recorded_as_failed_and_the_sweep_goes_on(toy):
    proc, sweep = toy("crash", "hydra.sweeper.n_trials=4", "hydra.sweeper.max_failure_rate=0.5", "fail_job=1")
    assert proc.returncode == 0, proc.stderr
    study = load(toy.storage)
    # the failed trial does not count towards n_trials: 4 complete, 5 launched
    assert states(study.trials) == ["COMPLETE", "FAIL"] + ["COMPLETE"] * 3
    assert "deliberate crash" in study.trials[1].user_attrs["fail_reason"]
    assert "recorded as FAIL" in proc.stderr + proc.stdout


def test_failures_over_max_failure_rate_stop_the_sweep(toy):
    proc, sweep = toy("stop", "hydra.sweeper.n_trials=3", "hydra.sweeper.max_failure_rate=0.0", "fail_job=0")
    assert proc.returncode != 0
    assert "max_failure_rate" in proc.stderr
    study = load(toy.storage)
    assert states(study.trials) == ["FAIL"]
    assert "n_failed: 1" in (sweep / "optimization_results.yaml").read_text()


def wait_for_the_hanging_trial(proc, sweep) -> None:
    """Until trial 1 (``hang_job=1``) hangs in the sweep ``proc`` runs (2 minutes at most)."""
    deadline = time.time() + 120
    while not (sweep / "1" / "hanging").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "the sweep never reached its second trial"
        time.sleep(0.2)


def test_killed_sweep_resumes_with_its_finished_trials(toy):
    proc, sweep = toy("killed", "hydra.sweeper.n_trials=3", "hang_job=1", popen=True)
    try:
        wait_for_the_hanging_trial(proc, sweep)
        assert states(load(toy.storage).trials) == ["COMPLETE", "RUNNING"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        proc.stdout.close()
    # resumed: trial 1 (its sweeper is gone) becomes FAIL at once, trial 0 is kept, 2 more run
    done, _ = toy("resumed", "hydra.sweeper.n_trials=3")
    assert done.returncode == 0, done.stderr
    trials = load(toy.storage).trials
    assert states(trials) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert "left running by a stopped sweep" in done.stderr + done.stdout
    # "redone": the killed trial's parameters ran again, once, as trial 2 in a folder of its own
    assert trials[2].params == trials[1].params and trials[2].user_attrs["retry_of"] == 1
    assert trials[3].params != trials[1].params
    assert [d.name for d in job_dirs(sweep)] == ["0", "1"] and (sweep / "1" / "hanging").exists()
    resumed = done_dir = toy.sweep_dir("resumed")
    assert [d.name for d in job_dirs(done_dir)] == ["2", "3"]
    assert folder_params(trials[2]) == folder_params(trials[1]) and resumed.name == "resumed"


def test_ctrl_c_fails_the_running_trial_and_says_how_to_carry_on(toy):
    """A new user's trial: Ctrl-C in a sweep wrote the results as if it had finished and exited 1
    with no word; the running trial stayed RUNNING until its heartbeat lapsed."""
    proc, sweep = toy("interrupted", "hydra.sweeper.n_trials=3", "hang_job=1", popen=True)
    try:
        wait_for_the_hanging_trial(proc, sweep)
        proc.send_signal(signal.SIGINT)
        out, stderr = (b.decode() if b else "" for b in proc.communicate(timeout=240))
        err = out + stderr  # (Hydra's log lines go to stdout)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Interrupted (Ctrl-C or SIGTERM) in trial(s) #1, recorded as FAIL" in err and "run the same command" in err
    assert "Traceback" not in err
    # the one line on stderr (a new user's try: only Hydra's log, on stdout, said it)
    assert "drumtx.app: interrupted (Ctrl-C or SIGTERM) in trial(s) #1, recorded as FAIL, its parameters queued " \
        "to run again" in stderr
    trials = load(toy.storage).trials
    assert states(trials) == ["COMPLETE", "FAIL", "WAITING"]
    assert trials[1].user_attrs["fail_reason"] == "interrupted (Ctrl-C or SIGTERM)"
    # carried on: the interrupted trial's parameters run again, once, as README's "Resuming" says
    done, _ = toy("carried_on", "hydra.sweeper.n_trials=3")
    assert done.returncode == 0, done.stderr
    trials = load(toy.storage).trials
    assert states(trials) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[2].params == trials[1].params and trials[2].user_attrs["retry_of"] == 1


def test_resuming_in_the_same_folder_keeps_every_trial_folder(toy):
    """A fixed hydra.sweep.dir (a resumed sweep, or workers sharing one): each trial's folder is
    named by its trial number, so the resumed run's trials 3 and 4 do not overwrite 0 and 1."""
    proc, sweep = toy("fixed", "hydra.sweeper.n_trials=3")
    assert proc.returncode == 0, proc.stderr
    first = {d.name: (d / "params.txt").read_text() for d in job_dirs(sweep)}
    proc, again = toy("fixed", "hydra.sweeper.n_trials=5")
    assert proc.returncode == 0, proc.stderr and again == sweep
    trials = load(toy.storage).trials
    assert [d.name for d in job_dirs(sweep)] == ["0", "1", "2", "3", "4"]
    for t in trials:
        assert t.user_attrs["output_dir"] == str(sweep / str(t.number))
        assert folder_params(t) == f"{t.params['x']!r} {t.params['kind']}"
    assert {d.name: (d / "params.txt").read_text() for d in job_dirs(sweep)[:3]} == first
    # a folder that another study left there is never reused: the trial fails, nothing is overwritten
    proc, _ = toy("fixed", "hydra.sweeper.n_trials=1", "hydra.sweeper.study_name=other")
    assert proc.returncode != 0 and "give each study its own hydra.sweep.dir" in proc.stderr
    assert (sweep / "0" / "params.txt").read_text() == first["0"]


def test_nan_or_raising_trials_are_failed_and_never_best(toy):
    """A job returning NaN and a job raising (as drumtx.train does on a non-finite loss) are FAIL
    trials with their reason, never the best trial, and not retried (they would fail again)."""
    import yaml

    proc, sweep = toy(
        "nan", "hydra.sweeper.n_trials=2", "hydra.sweeper.max_failure_rate=1.0", "nan_job=0", "fail_job=1"
    )
    assert proc.returncode == 0, proc.stderr
    trials = load(toy.storage).trials
    assert states(trials) == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert "non-finite" in trials[0].user_attrs["fail_reason"]
    assert "deliberate crash" in trials[1].user_attrs["fail_reason"]
    assert all("retry_of" not in t.user_attrs for t in trials)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_trial"]["number"] in (2, 3) and results["n_failed"] == 2
    assert results["best_value"] == pytest.approx(max(t.value for t in trials[2:]))


# nothing listens on port 1; psycopg2 is not drumtx's driver (drumtx[sweep] installs psycopg 3)
BAD_STORAGES = {
    "server-down": ("postgresql+psycopg://drumtx:s3cret@127.0.0.1:1/drumtx", "cannot connect"),
    "bad-url": ("not a url", "not a database URL"),
    "driver-missing": (
        "postgresql+psycopg2://drumtx:s3cret@127.0.0.1:1/drumtx",
        "driver not installed (psycopg2)",
    ),
    "unknown-kind": ("nosuchdb://localhost/x", "unknown database kind"),
}


@pytest.mark.parametrize(("storage", "says"), list(BAD_STORAGES.values()), ids=list(BAD_STORAGES))
def test_a_storage_that_cannot_be_opened_is_one_line_and_exit_2(toy, storage, says):
    if "psycopg2" in storage and importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    if "psycopg:" in storage and importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (pip install -e '.[sweep]'; make test does)")
    proc, sweep = toy("bad", f"hydra.sweeper.storage={storage}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "sweep storage" in lines[0], proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout  # the password is never printed
    assert not sweep.exists()  # nothing started


# --------------------------------------------------------------------------- real training
@pytest.mark.slow
def test_loss_weight_sweep_on_the_tiny_dataset_resumes(egmd_fixture, tmp_path):
    """`python -m drumtx.train -m hparams_search=loss_weights` on a tiny model: 3 trials, then
    the same study resumed to 5 (2 more); every trial a W&B (offline) run grouped by study."""
    import yaml

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study_name = "slow_sweep_study"
    base = [
        sys.executable,
        "-m",
        "drumtx.train",
        "-m",
        "hparams_search=loss_weights",
        "data=egmd",
        f"data.root={egmd_fixture}",
        f"paths.root_dir={tmp_path}",
        "data.prepare_workers=0",
        "data.num_workers=0",
        "data.batch_size=4",
        "augmentation=none",
        "encoder.channels=[4,4,4,8]",
        "encoder.rnn_hidden=8",
        "encoder.rnn_layers=1",
        "trainer.max_epochs=2",
        "trainer.num_sanity_val_steps=0",
        "trainer.enable_progress_bar=false",
        "scheduler=none",
        "logger=wandb",
        f"hydra.sweeper.storage={storage}",
        f"hydra.sweeper.study_name={study_name}",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WANDB_API_KEY", None)
    env.pop("WANDB_RUN_GROUP", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(PLUGINS), os.environ.get("PYTHONPATH")]))

    def sweep(name: str, n_trials: int) -> Path:
        sweep_dir = tmp_path / "multirun" / name
        out = subprocess.run(
            [*base, f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={sweep_dir}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
        return sweep_dir

    first = sweep("first", 3)
    assert len(job_dirs(first)) == 3
    second = sweep("second", 5)
    assert len(job_dirs(second)) == 2

    study = optuna.load_study(study_name=study_name, storage=storage)
    assert states(study.trials) == ["COMPLETE"] * 5
    # the value Optuna got is what each training run reports as its optimized metric
    for t in study.trials:
        metrics = json.loads((Path(t.user_attrs["output_dir"]) / "metrics.json").read_text())
        assert metrics["optimized_metric"] == "val/pr_auc_mean"
        assert t.value == pytest.approx(metrics["value"])
        assert set(t.params) == {
            "loss.kick",
            "loss.snare",
            "loss.tom_primary",
            "loss.tom_variation",
            "loss.cymbal_primary",
            "loss.cymbal_variation",
            "loss.crash",
        }
    results = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert results["n_trials"] == 5 and results["study_name"] == study_name
    assert results["best_value"] == pytest.approx(study.best_value)
    # each trial is an offline W&B run whose group is the study's name (not in any override)
    for d in job_dirs(first) + job_dirs(second):
        runs = list((d / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(runs) == 1 and study_name.encode() in runs[0].read_bytes()


def test_trainers_that_lightning_relaunches_per_device_are_refused():
    """Lightning starts ddp/fsdp (and auto on several devices) by running the whole command again
    per device; in a sweep each copy would be a sweep asking for trials of its own (seen with
    trainer=ddp_cpu: the rank-1 copy asked for trial 1 and trained rank 1 with its weights)."""
    assert relaunch_reason({"strategy": "ddp", "devices": 2, "accelerator": "cpu"}) is not None
    assert relaunch_reason({"strategy": "fsdp", "devices": [0, 1]}) is not None
    assert relaunch_reason({"strategy": "ddp", "devices": 1, "num_nodes": 2}) is not None
    assert relaunch_reason({"strategy": "auto", "devices": "0,1", "accelerator": "gpu"}) is not None
    assert relaunch_reason({"strategy": "ddp_spawn", "devices": 2, "accelerator": "cpu"}) is None
    assert relaunch_reason({"strategy": "ddp", "devices": 1}) is None
    assert relaunch_reason({"accelerator": "cpu"}) is None  # auto on the CPU: one device
    assert relaunch_reason({"strategy": "auto", "devices": 1, "accelerator": "gpu"}) is None
    assert relaunch_reason(None) is None


@pytest.mark.parametrize(
    ("overrides", "env", "says"),
    [
        (["+trainer={strategy: ddp, devices: 2, accelerator: cpu}"], {}, "trainer.strategy=ddp_spawn"),
        ([], {"LOCAL_RANK": "1"}, "LOCAL_RANK is set"),
    ],
    ids=["ddp", "under-torchrun"],
)
def test_a_sweep_that_would_copy_itself_per_device_stops_before_starting(toy, overrides, env, says):
    proc, sweep = toy("ddp", *overrides, extra_env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert not sweep.exists()
    # the spawn strategy is fine: the toy ignores it and the sweep runs
    if overrides:
        ok, _ = toy(
            "spawn",
            "+trainer={strategy: ddp_spawn, devices: 2, accelerator: cpu}",
            "hydra.sweeper.n_trials=1",
        )
        assert ok.returncode == 0, ok.stderr


@pytest.mark.slow
def test_trials_train_with_ddp_spawn_on_two_cpu_processes(egmd_fixture, tmp_path):
    """trainer=ddp_cpu trainer.strategy=ddp_spawn: each trial one 2-process DDP training whose
    metric reaches the sweeper (with strategy=ddp the sweep stops before starting, see above)."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    sweep_dir = tmp_path / "multirun" / "spawn"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(PLUGINS)]))}
    out = subprocess.run(
        [
            sys.executable, "-m", "drumtx.train", "-m", "hparams_search=loss_weights", "data=egmd",
            f"data.root={egmd_fixture}", f"paths.root_dir={tmp_path}", "data.prepare_workers=0",
            "data.num_workers=0", "data.batch_size=2", "data.crop_seconds=1.0", "augmentation=none",
            "encoder.channels=[4,4,4,8]", "encoder.rnn_hidden=8", "encoder.rnn_layers=1", "trainer.max_epochs=1",
            "trainer.limit_train_batches=2", "trainer.num_sanity_val_steps=0", "trainer.enable_progress_bar=false",
            "scheduler=none", "logger=none", "trainer=ddp_cpu", "trainer.strategy=ddp_spawn",
            f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert (out.stdout + out.stderr).count("Starting with 2 processes") == 2
    study = optuna.load_study(study_name="loss_weights", storage=storage)
    assert states(study.trials) == ["COMPLETE"] * 2
    for t in study.trials:
        metrics = json.loads((sweep_dir / str(t.number) / "metrics.json").read_text())
        assert t.value == pytest.approx(metrics["value"])


def test_a_study_is_not_resumed_for_another_metric_and_other_overrides_are_named(toy):
    """A new user's trial: a second sweep with another optimized_metric (or data) loaded the old
    study, ran 0 more trials and reported the old study's best as its own, exit 0."""
    proc, _ = toy("m1", "hydra.sweeper.n_trials=2", "+optimized_metric=val/a")
    assert proc.returncode == 0, proc.stderr
    proc, _ = toy("m2", "hydra.sweeper.n_trials=3", "+optimized_metric=val/b")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"drumtx.app: study 'toy' in {toy.storage} optimises 'val/a', this sweep 'val/b': use another "
        "hydra.sweeper.study_name (its trials' values are not comparable)")
    assert len(load(toy.storage).trials) == 2
    proc, _ = toy("m3", "hydra.sweeper.n_trials=3", "+optimized_metric=val/a", "fail_job=99")
    assert proc.returncode == 0, proc.stderr
    assert "was run with other fixed overrides: now fail_job=99 (its finished trials count" in proc.stdout + proc.stderr
    assert len(load(toy.storage).trials) == 3
    proc, _ = toy("m4", "hydra.sweeper.n_trials=4", "+optimized_metric=val/a", "fail_job=99",
                  "x=interval(0.0,1.0)")
    assert proc.returncode == 0, proc.stderr
    assert ("was searched over another space (differs in: x; its finished trials count towards n_trials and guide "
            "the sampler; another study_name starts afresh)") in proc.stdout + proc.stderr


def test_a_failed_trial_logs_a_traceback_only_for_a_bug(caplog):
    """A drumtx job's bad input was named in one line when it failed (drumtx.cli.job_failed): the
    sweeper records the FAIL trial with that reason and no traceback; any other error keeps it."""
    from hydra.core.utils import JobReturn, JobStatus

    from drumtx import cli

    impl = make_impl()
    study = optuna.create_study(direction="maximize")

    def fail_with(exc):
        try:
            raise exc
        except type(exc) as raised:
            return JobReturn(overrides=["x=1"], status=JobStatus.FAILED, _return_value=raised)

    bad_input = FileNotFoundError("x: no such checkpoint file")
    cli._REPORTED.append(bad_input)
    for exc in (bad_input, ZeroDivisionError("a bug")):
        caplog.clear()
        trial = study.ask()
        with caplog.at_level(logging.WARNING):
            reason = impl._tell(study, trial, fail_with(exc), 1)
        assert reason == f"trial {trial.number}: {type(exc).__name__}: {exc}"
        assert study.trials[trial.number].state == TrialState.FAIL
        assert ("Traceback" in caplog.text) == (exc is not bad_input)
    cli._REPORTED.remove(bad_input)
