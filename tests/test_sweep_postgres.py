"""Sweeps sharing one Optuna study on a real PostgreSQL server (issue 19), no mocks.

The module's fixture starts a server with the project's own ``make sweep-db`` (data in a fresh
folder under /tmp, a free port) and stops it with ``make sweep-db-stop``. Then two workers run
the same ``python -m drumtx.train -m hparams_search=loss_weights`` sweep, each trial a 2-step
CPU training on the tiny E-GMD fixture, into one ``hydra.sweep.dir``. Worker A runs in a UTS
namespace of its own (another host name), so that it looks like another machine: the sweeper's
same-machine shortcut (a dead sweep process is seen at once) does not apply, and its killed
trial must be failed by the lapsed heartbeat, as on a real second machine.

Needs the PostgreSQL server programs and psycopg (``make test`` installs both: apt
``postgresql``, ``pip install -e '.[sweep]'``); without them the tests skip, except under CI
(``CI`` set), where they fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "drumtx" / "plugins"
N_TRIALS = 4
HEARTBEAT = 1  # s, hydra.sweeper.heartbeat_interval
GRACE = 4  # s, hydra.sweeper.grace_period
OTHER_HOST = "sweep-worker-a"


def _missing() -> str | None:
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install -e '.[sweep]')"
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") and shutil.which("pg_ctl") is None:
        return "the PostgreSQL server is not installed (Debian: apt-get install postgresql)"
    if shutil.which("make") is None:
        return "make is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make(*args: str) -> subprocess.CompletedProcess:
    # -o: the stamp that installs the server and driver is `make test`'s business, not this test's
    return subprocess.run(
        ["make", "-s", "-o", ".stamps/postgres", *args], cwd=ROOT, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def clean_egmd(egmd_builder, tmp_path_factory) -> Path:
    """The tiny E-GMD fixture without its corrupt track: preparing it is a plain success."""
    return egmd_builder(tmp_path_factory.mktemp("egmd_clean"), corrupt=None)


@pytest.fixture(scope="module")
def postgres_url():
    """``postgresql+psycopg://…`` of a fresh server started by ``make sweep-db``, stopped after the module."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL sweep test: {missing}")
        pytest.skip(missing)
    pg_dir = tempfile.mkdtemp(prefix="drumtx-pg-")  # under /tmp: the postgres user can reach it
    port = _free_port()
    settings = [f"PG_DIR={pg_dir}", f"PG_PORT={port}", "PG_PASSWORD=sweep-test", "PG_DB=sweeps"]
    started = _make("sweep-db", *settings)
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"postgresql+psycopg://drumtx:sweep-test@localhost:{port}/sweeps"
    assert f"hydra.sweeper.storage={url}" in started.stdout
    try:
        yield url
    finally:
        _make("sweep-db-stop", *settings)
        shutil.rmtree(pg_dir, ignore_errors=True)


def _other_host_prefix() -> list[str] | None:
    """Command prefix that runs a process under another host name (a UTS namespace), or None."""
    if shutil.which("unshare") is None:
        return None
    for flags in (["--uts"], ["--map-root-user", "--uts"]):
        probe = subprocess.run(["unshare", *flags, "hostname", OTHER_HOST], capture_output=True)
        if probe.returncode == 0:
            return ["unshare", *flags, "sh", "-c", f'hostname {OTHER_HOST} && exec "$@"', "sh"]
    return None


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(PLUGINS)]))}
    for key in ("WANDB_RUN_GROUP", "HYDRA_FULL_ERROR"):
        env.pop(key, None)
    return env


def _data(clean_egmd: Path, tmp: Path) -> list[str]:
    return [
        "data=egmd",
        f"data.root={clean_egmd}",
        f"data.cache_dir={tmp / 'cache'}",
        f"paths.root_dir={tmp}",
        "data.prepare_workers=0",
        "data.num_workers=0",
    ]


def _sweep(clean_egmd: Path, tmp: Path, url: str, study: str, sweep_dir: Path) -> list[str]:
    """The sweep both workers run: 2 training steps and one validation per trial."""
    return [
        sys.executable,
        "-m",
        "drumtx.train",
        "-m",
        "hparams_search=loss_weights",
        *_data(clean_egmd, tmp),
        "data.batch_size=2",
        "data.crop_seconds=1.0",
        "data.eval_chunk_seconds=2.0",
        "augmentation=none",
        "encoder.channels=[4,4,4,8]",
        "encoder.rnn_hidden=8",
        "encoder.rnn_layers=1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.num_sanity_val_steps=0",
        "trainer.enable_progress_bar=false",
        "scheduler=none",
        "logger=none",
        "torch_threads=1",
        f"hydra.sweeper.storage={url}",
        f"hydra.sweeper.study_name={study}",
        f"hydra.sweeper.n_trials={N_TRIALS}",
        f"hydra.sweeper.heartbeat_interval={HEARTBEAT}",
        f"hydra.sweeper.grace_period={GRACE}",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def test_two_workers_share_a_study_and_a_killed_workers_trial_is_rerun(postgres_url, clean_egmd, tmp_path):
    import optuna
    from optuna.trial import TrialState

    other_host = _other_host_prefix()
    if other_host is None and os.environ.get("CI"):
        pytest.fail("CI must be able to run a worker under another host name (unshare --uts)")
    # the feature cache first, so that the two workers' first trials do not both build it
    prep = subprocess.run(
        [sys.executable, "-m", "drumtx.prepare", *_data(clean_egmd, tmp_path), "progress=false"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert prep.returncode == 0, prep.stderr[-3000:]

    sweep_dir = tmp_path / "multirun" / "shared"  # one folder for both workers, as the README says
    study_name = "pg_two_workers"
    cmd = _sweep(clean_egmd, tmp_path, postgres_url, study_name, sweep_dir)
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("a", "b")}
    a = subprocess.Popen(
        [*(other_host or []), *cmd], cwd=tmp_path, env=_env(), stdout=logs["a"], stderr=subprocess.STDOUT
    )
    b = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=logs["b"], stderr=subprocess.STDOUT)
    a_host = OTHER_HOST if other_host else socket.gethostname()

    def a_running_trial(study) -> int | None:
        """Number of a trial worker A is in the middle of (its job folder started), else None."""
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if (
                t.user_attrs.get("sweeper_worker") == f"{a_host}:{a.pid}"
                and (sweep_dir / str(t.number) / ".hydra").is_dir()
            ):
                return t.number
        return None

    try:
        killed = None
        deadline = time.time() + 240
        while killed is None:
            assert a.poll() is None, (tmp_path / "a.log").read_text()[-3000:]
            assert time.time() < deadline, "worker A never started a trial"
            try:
                study = optuna.load_study(study_name=study_name, storage=postgres_url)
            except KeyError:  # not created yet
                time.sleep(0.5)
                continue
            n = a_running_trial(study)
            if n is None:
                time.sleep(0.3)
                continue
            stopped_at = dt.datetime.now()
            a.send_signal(signal.SIGSTOP)  # frozen: the trial cannot finish between the check and the kill
            if a_running_trial(study) == n:
                a.send_signal(signal.SIGKILL)
                a.wait(timeout=30)
                killed = n
            else:
                a.send_signal(signal.SIGCONT)  # it finished just now: kill it in its next trial
        assert b.wait(timeout=300) == 0, (tmp_path / "b.log").read_text()[-5000:]
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in logs.values():
            f.close()
    b_log = (tmp_path / "b.log").read_text()

    study = optuna.load_study(study_name=study_name, storage=postgres_url)
    trials = study.get_trials()
    states = [t.state for t in trials]
    # exactly n_trials finished, one failed (the killed one), nothing else left running or waiting
    assert states.count(TrialState.COMPLETE) == N_TRIALS and states.count(TrialState.FAIL) == 1, states
    assert len(trials) == N_TRIALS + 1
    dead = trials[killed]
    assert dead.state == TrialState.FAIL
    if other_host:
        # failed by the lapsed heartbeat (another "machine"), not before the grace period
        assert "sent no heartbeat for the grace period" in b_log
        # its last heartbeat came at most one interval before it was frozen (measured from the kill,
        # which a loaded machine delays by the check above, it failed 2.7 s "after" it in one run)
        assert (dead.datetime_complete - stopped_at).total_seconds() >= GRACE - HEARTBEAT
    else:
        assert "left running by a stopped sweep" in b_log
    # ... and its parameters were run again, once, by worker B
    reruns = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(reruns) == 1 and reruns[0].state == TrialState.COMPLETE
    assert reruns[0].params == dead.params
    assert reruns[0].user_attrs["sweeper_worker"] == f"{socket.gethostname()}:{b.pid}"
    # both workers ran trials; no parameter set ran twice to completion
    workers = {t.user_attrs["sweeper_worker"].split(":")[0] for t in trials}
    assert workers == {a_host, socket.gethostname()} or not other_host
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len({tuple(sorted(t.params.items())) for t in complete}) == N_TRIALS

    # every trial has its own folder, named by its number, holding that trial's run
    assert sorted(int(p.name) for p in sweep_dir.iterdir() if p.name.isdigit()) == [t.number for t in trials]
    for t in trials:
        folder = sweep_dir / str(t.number)
        assert t.user_attrs["output_dir"] == str(folder)
        if t.number == killed and not (folder / ".hydra" / "overrides.yaml").exists():
            continue  # SIGKILL landed between the folder's creation and Hydra writing the job's files
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        assert all(o in overrides for o in t.user_attrs["overrides"])
        if t.state == TrialState.COMPLETE:
            metrics = yaml.safe_load((folder / "metrics.json").read_text())  # JSON is YAML
            assert metrics["value"] == pytest.approx(t.value)
    assert not (sweep_dir / str(killed) / "metrics.json").exists()

    # the results files written at the end match the database
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["study_name"] == study_name and "sweep-test" not in yaml.safe_dump(results)
    assert (results["n_trials"], results["n_complete"], results["n_failed"]) == (N_TRIALS, N_TRIALS, 1)
    assert results["best_trial"]["number"] == study.best_trial.number
    assert results["best_value"] == pytest.approx(study.best_value)
    assert results["best_params"] == pytest.approx(study.best_params)
    with (sweep_dir / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [t.number for t in trials]
    assert [r["state"] for r in rows] == [t.state.name for t in trials]
    for r, t in zip(rows, trials, strict=True):
        assert (float(r["value"]) if r["value"] else None) == (
            pytest.approx(t.value) if t.value is not None else None
        )


def test_wrong_password_is_one_line_and_exit_2(postgres_url, clean_egmd, tmp_path):
    wrong = postgres_url.replace("sweep-test", "not-the-password")
    sweep_dir = tmp_path / "multirun" / "wrong"
    cmd = _sweep(clean_egmd, tmp_path, wrong, "never", sweep_dir)
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "cannot connect" in lines[0] and "password authentication failed" in lines[0]
    ), lines
    assert "not-the-password" not in proc.stderr + proc.stdout
    assert not sweep_dir.exists()
