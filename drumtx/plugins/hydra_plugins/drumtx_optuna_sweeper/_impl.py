"""Optuna study driven through Hydra's launcher: ask a batch of trials, turn their parameters into
overrides, launch the jobs, tell Optuna the results; repeat until the *study* has ``n_trials``
finished trials. Written against Optuna >= 3 (see the package docstring for why not the
official plugin); the override-to-distribution rules follow the official plugin's so that
configs behave the same.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, Trial, TrialState

from drumtx.atomic import atomic_write_text
from drumtx.cli import reported as _reported

log = logging.getLogger(__name__)

#: user attribute naming the sweeper process that owns a running trial ("host:pid")
WORKER_ATTR = "sweeper_worker"
RESULTS_FILE = "optimization_results.yaml"
#: trials that count towards n_trials: finished with a result. Failed ones (a crash, a killed
#: worker) are kept in the study but do not use up the budget; max_failure_rate bounds them.
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


# --------------------------------------------------------------------------- search space
def distribution_from_override(override: Override) -> BaseDistribution | None:
    """Optuna distribution of a sweep override, or None for a plain (fixed) value.

    choice(a, b) and shuffle(range(...)) -> categorical; range(start, stop, step) -> int or
    float with that step, stop excluded as in Python; interval(a, b) -> float (Hydra's parser
    makes its ends floats; the int branch serves other parsers); tag(log, interval(...)) -> log scale.
    """
    if not override.is_sweep_override():
        return None
    value = override.value()
    key = override.get_key_element()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        for c in choices:
            if not isinstance(c, str | int | float | bool | type(None)):
                raise ValueError(f"{key}: a choice sweep takes str, int, float, bool or null, got {c!r}")
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        values = list(override.sweep_iterator(transformer=Transformer.identity))
        if not values:
            raise ValueError(f"{key}: empty range {override.input_line!r}")
        step = abs(value.step)
        low, high = min(values), max(values)
        if all(isinstance(v, int) for v in values) and isinstance(value.step, int):
            return IntDistribution(int(low), int(high), step=int(step))
        return FloatDistribution(float(low), float(high), step=float(step))
    if override.is_interval_sweep():
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise NotImplementedError(f"{key}: {override.input_line!r} is not supported by the Optuna sweeper")


def distribution_from_config(name: str, spec: Mapping[str, Any]) -> BaseDistribution:
    """The deprecated ``search_space`` form: {type: float|int|categorical, low, high, log, step, choices}."""
    kind = str(spec.get("type", "")).split(".")[-1]
    if kind == "categorical":
        return CategoricalDistribution(list(spec["choices"]))
    if kind == "int":
        step = int(spec.get("step") or 1)
        return IntDistribution(int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")), step=step)
    if kind == "float":
        return FloatDistribution(
            float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")), step=spec.get("step")
        )
    raise ValueError(f"search_space.{name}: type must be float, int or categorical, got {spec.get('type')!r}")


def grid_choices(name: str, dist: BaseDistribution) -> list[Any]:
    """All values of a discrete distribution, for the grid sampler (``high`` included)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return list(range(dist.low, dist.high + 1, dist.step))
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        n = int(round((dist.high - dist.low) / dist.step))
        return [dist.low + i * dist.step for i in range(n + 1)]
    raise ValueError(f"{name}: the grid sampler needs choice(...) or range(...), not {dist}")


def override_value(value: Any) -> str:
    """A suggested value written so that Hydra's override parser reads it back unchanged: plain
    where that round-trips (group choices such as ``none`` must stay unquoted), else quoted."""
    text = Transformer.str(value)
    if isinstance(value, str):
        try:
            same = OverridesParser.create().parse_overrides([f"k={text}"])[0].value() == value
        except Exception:
            same = False
        if not same:
            text = QuotedString(text=value, quote=Quote.single).with_quotes()
    return text


#: the study's user attribute recording what it optimises (DrumtxOptunaSweeper._check_same_question)
QUESTION_ATTR = "drumtx_question"


def redact(storage: Any) -> str:
    """Storage for logs and the results file, without a database password."""
    if not isinstance(storage, str):
        return type(storage).__name__ if storage is not None else "in-memory"
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:
        return storage.split("@")[-1]


class StorageError(RuntimeError):
    """The study's storage cannot be opened (bad URL, missing driver, server down); one line."""


def retry_callback(max_retry: int) -> Callable[[optuna.Study, FrozenTrial], None] | None:
    """Optuna's callback that queues a failed trial again with the same parameters, at most
    ``max_retry`` times over its retries (None for 0). Named RetryHeartbeatStaleTrialCallback
    since Optuna 4.9, RetryFailedTrialCallback before."""
    if max_retry <= 0:
        return None
    cls = (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=max_retry)


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """Connect to an RDB storage (creating Optuna's tables on first use).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///multirun/optuna.db`` or
            ``postgresql+psycopg://user:password@host:5432/db`` (psycopg 3, ``drumtx[sweep]``).
        heartbeat_interval: seconds between heartbeats of running trials (None: no heartbeats).
        grace_period: seconds without a heartbeat after which a running trial is failed.
        stale_trial_callback: called with each trial failed for a stopped heartbeat (e.g.
            :func:`retry_callback`).

    Returns:
        The storage, connected.

    Raises:
        StorageError: one line naming the storage (password hidden) and what to do, for a URL
            SQLAlchemy cannot parse, a driver that is not installed, or a server that cannot be
            reached or refuses the login.
    """
    import sqlalchemy.exc

    kwargs: dict[str, Any] = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period}
    if heartbeat_interval and stale_trial_callback is not None:
        import inspect  # the argument is named heartbeat_stale_trial_callback since Optuna 4.9

        params = inspect.signature(optuna.storages.RDBStorage).parameters
        name = (
            "heartbeat_stale_trial_callback"
            if "heartbeat_stale_trial_callback" in params
            else "failed_trial_callback"
        )
        kwargs[name] = stale_trial_callback
    engine: dict[str, Any] = {"pool_pre_ping": True}  # a connection idle through a long trial may be gone
    if url.startswith("postgresql"):
        engine["connect_args"] = {"connect_timeout": 10}  # an unreachable host fails in 10 s, not minutes
    where = f"sweep storage {redact(url)}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)
    except sqlalchemy.exc.NoSuchModuleError as e:  # before ArgumentError, its base class
        raise StorageError(
            f"{where}: unknown database kind ({_one_line(e)}); use postgresql+psycopg:// or sqlite:///"
        ) from None
    except sqlalchemy.exc.ArgumentError as e:
        raise StorageError(
            f"{where}: not a database URL ({_one_line(e)}); write e.g. "
            "postgresql+psycopg://user:password@host:5432/db or sqlite:///multirun/optuna.db"
        ) from None
    except ImportError as e:
        cause = e.__cause__ or e
        missing = getattr(cause, "name", None) or _one_line(cause)
        hint = (
            "the PostgreSQL driver drumtx uses is psycopg 3: write postgresql+psycopg://... and "
            "pip install 'drumtx[train,sweep]'"
            if url.startswith("postgresql")
            else "install the database driver this URL names"
        )
        raise StorageError(f"{where}: database driver not installed ({missing}); {hint}") from None
    except sqlalchemy.exc.OperationalError as e:
        raise StorageError(
            f"{where}: cannot connect ({_one_line(getattr(e, 'orig', None) or e)}); is the server "
            "running and are host, port, user, password and database right? (make sweep-db starts a local one)"
        ) from None


def heartbeat_interval_of(storage: Any) -> int | None:
    """Heartbeat interval of a storage in seconds, or None where it keeps no heartbeats."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if callable(get) else None


def _one_line(e: BaseException | str) -> str:
    return " ".join(str(e).split())[:300]


def _device_count(devices: Any, accelerator: str) -> int:
    """Devices a Lightning Trainer would use for ``devices``/``accelerator`` (as Lightning reads them)."""
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    if text.lstrip("-").isdigit() and int(text) >= 0:
        return int(text)
    # "auto" or -1: every device of the accelerator (one for the CPU)
    if accelerator in ("auto", "gpu", "cuda"):
        import torch

        return max(1, torch.cuda.device_count())
    return 1


def relaunch_reason(trainer: Any) -> str | None:
    """Why Lightning would start a training by running the whole command again once per device
    (its subprocess-script launcher, used by ddp, fsdp and deepspeed, and by ``auto`` on several
    devices): under a sweep each copy would start a sweep of its own, asking for trials of its
    own. None where it would not (one device, or a spawn/fork strategy)."""
    if not isinstance(trainer, Mapping):
        return None
    strategy = str(trainer.get("strategy", "auto") or "auto")
    if any(k in strategy for k in ("spawn", "fork", "notebook")):
        return None
    if strategy != "auto" and not strategy.startswith(("ddp", "fsdp", "deepspeed")):
        return None
    n = _device_count(trainer.get("devices", "auto"), str(trainer.get("accelerator", "auto")))
    nodes = int(trainer.get("num_nodes", 1) or 1)
    if n * nodes <= 1:
        return None
    return f"trainer.strategy={strategy} on {n} device(s) x {nodes} node(s)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- sweeper
class OptunaSweeperImpl(Sweeper):
    def __init__(
        self,
        *,
        sampler: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
        search_space: DictConfig | None,
        custom_search_space: str | None,
        heartbeat_interval: int | None,
        grace_period: int | None,
        group_env_var: str | None,
        enqueue_trials: Any = None,
        retry_killed_trials: int = 1,
    ) -> None:
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"hydra.sweeper.max_failure_rate must be within [0, 1], got {max_failure_rate}")
        if n_trials < 1 or n_jobs < 1:
            raise ValueError(f"hydra.sweeper.n_trials and n_jobs must be >= 1, got {n_trials} and {n_jobs}")
        self.sampler = sampler
        self.direction = direction
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = params
        self.search_space = search_space
        self.custom_search_space: Callable[[DictConfig, Trial], None] | None = (
            get_method(custom_search_space) if custom_search_space else None
        )
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.group_env_var = group_env_var
        if retry_killed_trials < 0:
            raise ValueError(f"hydra.sweeper.retry_killed_trials must be >= 0, got {retry_killed_trials}")
        self.retry_killed_trials = int(retry_killed_trials)
        self.enqueue_trials = [
            OmegaConf.to_container(p) if isinstance(p, DictConfig) else dict(p)
            for p in (enqueue_trials or [])
        ]
        self.job_idx = 0
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.job_idx = 0
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(str(config.hydra.sweep.dir))

    # ------------------------------------------------------------------ helpers
    @property
    def _prog(self) -> str:
        """The command the sweep runs, as drumtx's error lines name it (``drumtx.train``): the
        sweeper's own lines start with it too."""
        name = str(OmegaConf.select(self.config, "hydra.job.name", default="") or "") if self.config else ""
        return (name if name.startswith("drumtx") else f"drumtx.{name}") if name else "drumtx"

    def _directions(self) -> list[str]:
        raw = self.direction
        items = list(raw) if isinstance(raw, Sequence) and not isinstance(raw, str) else [raw]
        out = []
        for d in items:
            name = getattr(d, "name", str(d)).lower()
            if name not in ("minimize", "maximize"):
                raise ValueError(f"hydra.sweeper.direction must be minimize or maximize, got {d!r}")
            out.append(name)
        return out

    def search_space_from(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
        """Distributions and fixed overrides from ``params`` (or ``search_space``) then the command
        line; a later setting of the same key wins, so ``loss.kick=2.0`` on the command line
        fixes a parameter that the config sweeps."""
        dists: dict[str, BaseDistribution] = {}
        fixed: dict[str, str] = {}
        if self.search_space and self.params:
            warnings.warn(
                "Both hydra.sweeper.params and hydra.sweeper.search_space are set; using params.",
                stacklevel=2,
            )
        elif self.search_space:
            log.warning("hydra.sweeper.search_space is deprecated; write the space as hydra.sweeper.params")
            for name, spec in self.search_space.items():
                dists[str(name)] = distribution_from_config(str(name), spec)
        lines = [f"{k}={v}" for k, v in (self.params or {}).items()] + list(arguments)
        for override in OverridesParser.create().parse_overrides(lines):
            key = override.get_key_element()
            dist = distribution_from_override(override)
            if dist is None:
                fixed[key] = override.input_line or f"{key}={override.get_value_element_as_str()}"
                dists.pop(key, None)
            else:
                dists[key] = dist
                fixed.pop(key, None)
        return dists, fixed

    def _storage(self) -> Any:
        storage = self.storage
        if isinstance(storage, str) and storage.startswith("sqlite:///"):
            # SQLAlchemy does not create the folder of a new sqlite file.
            db = storage[len("sqlite:///") :].split("?")[0]
            if db and db != ":memory:":
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if isinstance(storage, str):
            interval = int(self.heartbeat_interval) if self.heartbeat_interval else None
            return open_storage(
                storage,
                interval,
                self.grace_period if interval else None,
                retry_callback(self.retry_killed_trials),
            )
        return storage

    def _fail_orphans(self, study: optuna.Study) -> None:
        """Mark failed the running trials whose worker is gone, so that they stop counting as running:
        by heartbeat (any machine, after the grace period) and, at once, those whose sweeper
        process on this machine no longer exists (a killed sweep that is being resumed). Each is
        queued again with its parameters, up to ``retry_killed_trials`` times, by the storage's
        retry callback (the worker whose update failed the trial runs it, so no two queue it)."""
        running = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        storage = study._storage
        after = {t.number: t for t in study.get_trials(deepcopy=False)}
        for n, t in running.items():
            if after[n].state == TrialState.FAIL:
                owner = t.user_attrs.get(WORKER_ATTR, "?")
                log.warning(
                    f"Trial {n} (worker {owner}) sent no heartbeat for the grace period: marked failed"
                    + self._retry_note(study, n)
                )
        host = socket.gethostname()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = str(t.user_attrs.get(WORKER_ATTR, ""))
            h, _, pid = owner.rpartition(":")
            if h != host or not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
                continue
            try:
                # True only for the one worker whose update finished it (as in fail_stale_trials)
                failed_here = storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                failed_here = False
            if not failed_here:
                continue
            callback = retry_callback(self.retry_killed_trials)
            if callback is not None:
                callback(study, storage.get_trial(t._trial_id))
            log.warning(
                f"Trial {t.number} was left running by a stopped sweep (pid {pid}): marked failed"
                + self._retry_note(study, t.number)
            )

    @staticmethod
    def _retry_note(study: optuna.Study, number: int) -> str:
        for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            if t.system_attrs.get("failed_trial") is not None and number in (
                t.system_attrs.get("retry_history") or []
            ):
                return "; its parameters are queued to run again"
        return ""

    @contextlib.contextmanager
    def _heartbeat(self, storage: Any, trials: list[Trial]) -> Iterator[None]:
        """Record heartbeats of the launched trials while their jobs run (Optuna only does this
        inside Study.optimize, which a Hydra sweeper cannot use)."""
        if not isinstance(storage, optuna.storages.RDBStorage) or not storage.get_heartbeat_interval():
            yield
            return
        interval = storage.get_heartbeat_interval()
        stop = threading.Event()

        def beat() -> None:
            while True:
                for t in trials:
                    with contextlib.suppress(Exception):
                        # the storage's id of the trial; Optuna has no public accessor for it
                        storage.record_heartbeat(t._trial_id)
                if stop.wait(interval):
                    return

        thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _ask(
        self, study: optuna.Study, dists: dict[str, BaseDistribution], fixed: dict[str, str]
    ) -> tuple[Trial, tuple[str, ...]]:
        with warnings.catch_warnings():
            # Optuna warns that heartbeats are meant for Study.optimize; _heartbeat does them here.
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask(fixed_distributions=dists)
        storage = study._storage
        if heartbeat_interval_of(storage):
            # at once: a worker killed before its first beat must not leave the trial running forever
            with contextlib.suppress(Exception):
                storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")
        # The trial's folder is named by its number, unique in the study: never reused by a
        # resumed sweep or another worker sharing hydra.sweep.dir (Hydra's job.num restarts at 0).
        out_dir = self.sweep_dir / str(trial.number)
        trial.set_user_attr("output_dir", str(out_dir))
        if out_dir.exists():
            study.tell(trial, state=TrialState.FAIL)
            raise FileExistsError(
                f"{out_dir} exists but study {study.study_name!r} has not run trial {trial.number} there "
                "(another study's, or an earlier in-memory sweep's?): give each study its own hydra.sweep.dir"
            )
        # set by Optuna's retry callback on the copy of a killed trial (see _fail_orphans)
        retried = storage.get_trial(trial._trial_id).system_attrs.get("failed_trial")
        if retried is not None:
            trial.set_user_attr("retry_of", retried)
            log.info(f"Trial {trial.number} runs the parameters of killed trial {retried} again")
        if self.custom_search_space is not None:
            assert self.config is not None
            self.custom_search_space(self.config, trial)
        overlap = set(trial.params) & set(fixed)
        if overlap:
            raise ValueError(f"Parameters both fixed and searched: {sorted(overlap)}")
        overrides = [f"{k}={override_value(v)}" for k, v in trial.params.items()] + list(fixed.values())
        trial.set_user_attr("overrides", overrides)
        job_overrides = [*overrides, f"hydra.sweep.subdir={trial.number}"]
        if self.group_env_var and self.group_env_var not in os.environ:
            # Every trial's W&B run joins a group named after the study.
            job_overrides.append(
                f"++hydra.job.env_set.{self.group_env_var}={override_value(study.study_name)}"
            )
        return trial, tuple(job_overrides)

    def _refuse_relaunching_trainers(self) -> None:
        """One line and exit 2 where every trial would start copies of the whole sweep: a sweep
        started under a distributed launcher (torchrun, or Lightning's per-device re-run of the
        command), or a trainer that Lightning would start that way."""
        if os.environ.get("LOCAL_RANK") is not None:
            print(
                f"{self._prog}: LOCAL_RANK is set, so this sweep runs under a distributed launcher "
                "(torchrun, or Lightning re-running the command per device) and would ask for trials "
                "of its own: start the sweep once per machine, and give trials several devices with "
                "trainer.strategy=ddp_spawn",
                file=sys.stderr,
            )
            raise SystemExit(2)
        reason = (
            relaunch_reason(OmegaConf.select(self.config, "trainer")) if self.config is not None else None
        )
        if reason is not None:
            print(
                f"{self._prog}: {reason} runs the whole command again once per device, which in a "
                "sweep starts a sweep per device: use trainer.strategy=ddp_spawn for trials on several "
                "devices, or one sweep worker per device (CUDA_VISIBLE_DEVICES=<i> ... trainer=gpu)",
                file=sys.stderr,
            )
            raise SystemExit(2)

    def _values(self, ret: JobReturn, n_objectives: int) -> list[float]:
        """The job's result as floats; raises the job's own exception if it failed."""
        if isinstance(ret._return_value, BaseException) and ret.status == JobStatus.FAILED:
            # (ret.return_value would raise it too, after printing "Error executing job with
            # overrides" to stderr: the trial's failure is logged here, and a drumtx job's reason
            # was already its own line)
            raise ret._return_value
        value = ret.return_value
        metric = self.config.get("optimized_metric") if self.config is not None else None
        if isinstance(value, Mapping) and metric is not None:
            if metric not in value:
                raise KeyError(f"the task returned {sorted(value)} without optimized_metric {metric!r}")
            value = value[metric]
        try:
            values = [float(value)] if n_objectives == 1 else [float(v) for v in value]
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"the task must return a number (or {n_objectives} numbers), got {value!r}"
            ) from e
        if len(values) != n_objectives:
            raise ValueError(f"expected {n_objectives} objective values, got {len(values)}")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"the task returned a non-finite objective {values}")
        return values

    def _check_same_question(self, study: optuna.Study, created: bool, dists: Mapping[str, BaseDistribution],
                             fixed: Mapping[str, str]) -> None:
        """Record what a study optimises (:data:`QUESTION_ATTR`: the metric, the fixed overrides,
        the search space) when it is created; a later sweep that loads it with another metric is
        refused (one line, exit 2: its values would be ranked against the old ones), and with
        other fixed overrides or another space it is told which (a worker on another machine may
        need its own paths). Only the worker that creates the study records it: a study from
        before this record, or one whose creator has not written it yet (a worker started at the
        same moment), is not checked, rather than take a loader's question for the study's."""
        metric = self.config.get("optimized_metric") if self.config is not None else None
        question = {"metric": metric, "fixed": sorted(fixed.values()),
                    "space": {k: repr(d) for k, d in sorted(dists.items())}}
        if created:
            study.set_user_attr(QUESTION_ATTR, question)
            return
        before = study.user_attrs.get(QUESTION_ATTR)
        if not isinstance(before, dict):
            return
        where = f"study {study.study_name!r} in {redact(self.storage)}"
        if before.get("metric") != metric:
            print(f"{self._prog}: {where} optimises {before.get('metric')!r}, this sweep {metric!r}: use another "
                  "hydra.sweeper.study_name (its trials' values are not comparable)", file=sys.stderr)
            raise SystemExit(2)
        old, new = set(before.get("fixed") or []), set(question["fixed"])
        if old != new:
            log.warning(f"{where} was run with other fixed overrides: "
                        + "; ".join([*(f"now {x}" for x in sorted(new - old)), *(f"then {x}" for x in sorted(old - new))])
                        + " (its finished trials count towards n_trials; another study_name starts afresh)")
        then, now = before.get("space") or {}, question["space"]
        changed = sorted(k for k in then.keys() | now.keys() if then.get(k) != now.get(k))
        if changed:
            log.warning(f"{where} was searched over another space (differs in: {', '.join(changed)}; its finished "
                        "trials count towards n_trials and guide the sampler; another study_name starts afresh)")

    # ------------------------------------------------------------------ the sweep
    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        assert self.config is not None and self.launcher is not None
        dists, fixed = self.search_space_from(arguments)
        directions = self._directions()

        if isinstance(self.sampler, functools.partial) and self.sampler.func is optuna.samplers.GridSampler:
            grid = {name: grid_choices(name, d) for name, d in dists.items()}
            self.sampler = self.sampler(grid)
            size = math.prod(len(v) for v in grid.values())
            if size < self.n_trials:
                log.info(f"Grid sampler: {size} points, so n_trials {self.n_trials} -> {size}")
                self.n_trials = size

        self._refuse_relaunching_trainers()
        try:
            storage = self._storage()
        except StorageError as e:
            # before any trial or folder: one line and exit 2, like drumtx's other bad-input errors
            print(f"{self._prog}: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        try:
            # load_if_exists=False: the database lets exactly one worker create the study
            study = optuna.create_study(
                study_name=self.study_name,
                storage=storage,
                sampler=self.sampler,
                directions=directions,
                load_if_exists=False,
            )
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=self.study_name, storage=storage, sampler=self.sampler)
            created = False
        if [d.name.lower() for d in study.directions] != directions:
            raise ValueError(
                f"Study {study.study_name!r} in {redact(self.storage)} was created with directions "
                f"{[d.name.lower() for d in study.directions]}, not {directions}: use another study_name"
            )
        self._check_same_question(study, created, dists, fixed)
        if not created and self.sampler is not None:
            # Only the worker that created the study keeps the sampler's seed (a lone sweep stays
            # reproducible). A resumed sweep would otherwise repeat the first run's start-up
            # points, and a second worker started at the same moment (the study still empty)
            # would propose the very same parameters as the first.
            with contextlib.suppress(NotImplementedError, AttributeError):
                self.sampler.reseed_rng()

        for params in self.enqueue_trials:
            unknown = sorted(set(params) - set(dists))
            if unknown:
                raise ValueError(f"hydra.sweeper.enqueue_trials names parameters not searched: {unknown}")
            study.enqueue_trial(params, skip_if_exists=True)

        log.info(f"Study: {study.study_name}   storage: {redact(self.storage)}")
        log.info(f"Sampler: {type(self.sampler).__name__}   directions: {directions}")
        log.info("Search space: " + ", ".join(f"{k}: {d}" for k, d in dists.items()))

        all_returns: list[Sequence[JobReturn]] = []
        failures: list[str] = []
        planned: int | None = None
        launched = 0
        waiting = False
        interval = heartbeat_interval_of(storage)
        try:
            while True:
                self._fail_orphans(study)
                trials = study.get_trials(deepcopy=False)
                n_done = sum(t.state in COUNTED_STATES for t in trials)
                n_running = sum(t.state == TrialState.RUNNING for t in trials)
                to_go = self.n_trials - n_done - n_running
                if planned is None:
                    planned = max(0, to_go)
                    n_failed = sum(t.state == TrialState.FAIL for t in trials)
                    log.info(
                        f"The study has {n_done} finished trials ({n_failed} failed, not counted) and "
                        f"{n_running} running elsewhere; n_trials={self.n_trials}: running {planned} more"
                    )
                if to_go <= 0:
                    if n_running and interval:
                        # Trials of other workers: stay until they finish, or run a dead one's retry
                        # once its heartbeat lapses, so that the study ends complete.
                        if not waiting:
                            log.info(
                                f"Waiting for {n_running} trial(s) running in other workers (a dead "
                                f"worker's trial fails after {getattr(storage, 'grace_period', None) or 2 * interval} s "
                                "without a heartbeat and is rerun here)"
                            )
                        waiting = True
                        time.sleep(min(interval, 10))
                        continue
                    break
                waiting = False
                batch = [self._ask(study, dists, fixed) for _ in range(min(self.n_jobs, to_go))]
                asked = [t for t, _ in batch]
                try:
                    with self._heartbeat(storage, asked):
                        returns = self.launcher.launch([o for _, o in batch], initial_job_idx=self.job_idx)
                except KeyboardInterrupt:
                    # Ctrl-C (or a trial's SIGTERM) in a trial: it fails now (not RUNNING until a heartbeat lapses), the
                    # finished trials stay in the study, its parameters are queued to run again as a killed
                    # trial's are (retry_killed_trials), and the same command carries on from them
                    requeued = False
                    for trial in asked:
                        with contextlib.suppress(Exception):  # (the storage may be what was interrupted)
                            self._record_failed(study, trial, "interrupted (Ctrl-C or SIGTERM)")
                            callback = retry_callback(self.retry_killed_trials)
                            if callback is not None:
                                callback(study, study._storage.get_trial(trial._trial_id))
                                requeued = True
                    line = (
                        f"Interrupted (Ctrl-C or SIGTERM) in trial(s) {', '.join(f'#{t.number}' for t in asked)}, recorded as "
                        f"FAIL{', its parameters queued to run again' if requeued else ''}; the study keeps its finished "
                        "trials: run the same command to carry on"
                    )
                    log.error(line)
                    print(f"{self._prog}: {line[0].lower()}{line[1:]}", file=sys.stderr)  # (Hydra's log is on stdout)
                    raise SystemExit(130) from None
                self.job_idx += len(returns)
                launched += len(returns)
                all_returns.append(returns)
                for trial, ret in zip(asked, returns, strict=True):
                    error = self._tell(study, trial, ret, len(directions))
                    if error is not None:
                        failures.append(error)
                if len(failures) > self.max_failure_rate * max(planned, launched):
                    # each failure was logged as it came: one line and exit status 1 (some failed), not a traceback
                    print(f"{self._prog}: {len(failures)} of {planned} planned trials failed, over max_failure_rate="
                          f"{self.max_failure_rate}; last: {failures[-1]}", file=sys.stderr)
                    raise SystemExit(1)
        finally:
            self._report(study, directions)
        return all_returns

    @staticmethod
    def _record_failed(study: optuna.Study, trial: Trial, reason: str) -> None:
        """The trial FAIL in the study (unless already finished), its reason kept as the user
        attribute ``fail_reason`` (1,000 characters at most)."""
        with contextlib.suppress(Exception):
            trial.set_user_attr("fail_reason", reason[:1000])
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)

    def _tell(self, study: optuna.Study, trial: Trial, ret: JobReturn, n_objectives: int) -> str | None:
        """Tell Optuna the job's result; a crashed or non-numeric job becomes a FAIL trial."""
        with contextlib.suppress(Exception):
            trial.set_user_attr("output_dir", str(ret.hydra_cfg.hydra.runtime.output_dir))
        try:
            values = self._values(ret, n_objectives)
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            self._record_failed(study, trial, reason)
            # a drumtx job's bad input was named in its own line (drumtx.cli.job_failed): no traceback
            detail = "".join(traceback.format_exception(e)) if e.__traceback__ is not None and not _reported(e) else ""
            log.warning(f"Trial {trial.number} failed, recorded as FAIL ({reason})\n{detail}".rstrip())
            return f"trial {trial.number}: {reason}"
        if study._storage.get_trial(trial._trial_id).state.is_finished():
            # another worker failed it meanwhile (no heartbeat for grace_period: raise it)
            log.warning(f"Trial {trial.number} finished ({values}) after it had been marked failed")
            return None
        try:
            study.tell(trial, values)
        except RuntimeError as e:
            # The grid sampler calls study.stop() once the grid is exhausted, which Optuna only
            # allows inside optimize(); the trial itself has been stored.
            if "Study.stop" not in str(e):
                raise
        log.info(
            f"Trial {trial.number}: {values if n_objectives > 1 else values[0]}  {' '.join(ret.overrides or [])}"
        )
        return None

    def _report(self, study: optuna.Study, directions: list[str]) -> None:
        """Log the best trial(s) and write them with the whole trial table into the sweep folder."""
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        results: dict[str, Any] = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": redact(self.storage),
            "directions": directions,
            "n_trials": sum(t.state in COUNTED_STATES for t in trials),
            "n_complete": len(complete),
            "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "n_failed": sum(t.state == TrialState.FAIL for t in trials),
        }

        def describe(t: FrozenTrial) -> dict[str, Any]:
            return {
                "number": t.number,
                "params": t.params,
                "overrides": t.user_attrs.get("overrides", []),
                "output_dir": t.user_attrs.get("output_dir"),
            }

        if not complete:
            log.error(f"Study {study.study_name}: no complete trial yet")
        elif len(directions) == 1:
            best = study.best_trial
            results.update(best_params=best.params, best_value=best.value, best_trial=describe(best))
            log.info(f"Best trial: #{best.number}  value: {best.value}")
            log.info(f"Best parameters: {best.params}")
        else:
            front = study.best_trials
            results["solutions"] = [{**describe(t), "values": t.values} for t in front]
            log.info(f"{len(front)} Pareto-optimal trials:")
            for t in front:
                log.info(f"    #{t.number} values {t.values}  params {t.params}")
        try:
            atomic_write_text(self.sweep_dir / RESULTS_FILE, OmegaConf.to_yaml(OmegaConf.create(results)))
            atomic_write_text(self.sweep_dir / "trials.csv", study.trials_dataframe().to_csv(index=False))
            log.info(f"Results: {self.sweep_dir / RESULTS_FILE}")
        except Exception as e:  # the sweep's own outcome matters more than its summary
            log.error(f"Could not write the sweep results into {self.sweep_dir}: {e}")
