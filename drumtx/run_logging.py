"""Experiment logging and callbacks from a command's config (library, no command imports).

What ``drumtx.train``, ``drumtx.evaluate`` and ``drumtx.tune_thresholds`` share: the configured
Lightning logger (``logger`` config group: W&B goes offline without an API key and is named
after the run's overrides; CSV; ``logger=none``), the end of a logger's run (one W&B run per
job, also in a sweep and after a failure), the training callbacks, which depend on whether
there is a logger, and the third-party chatter a training leaves out (:func:`quiet_third_party`).
"""

from __future__ import annotations

import logging
import netrc
import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from drumtx.models.callbacks import FiniteGuard


def wandb_key_configured() -> bool:
    """True when W&B could authenticate: WANDB_API_KEY, or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class _DropAdvertisements(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing litlogger/litmodels" lines, which it prints
    on every fit and has no switch for (Lightning-AI/pytorch-lightning#21294)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


_ADVERTISEMENTS = _DropAdvertisements()


def quiet_third_party() -> None:
    """Leave out what a training's output repeats without telling the user anything: Lightning's
    product tips (its rank-zero info loggers) and torch's FutureWarning about ``LeafSpec``, which
    Lightning's own ``_pytree`` triggers every step it flattens a batch (nothing a drumtx user
    can act on). Idempotent; everything else Lightning and torch say is kept."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if _ADVERTISEMENTS not in logger.filters:
            logger.addFilter(_ADVERTISEMENTS)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)


def run_name(default: str = "defaults") -> str:
    """The run's name from its command-line overrides (e.g. ``branches=flat,loss.crash=0.6``)."""
    try:
        hc = HydraConfig.get()
    except ValueError:  # composed outside @hydra.main (tests)
        return default
    return hc.job.override_dirname or ",".join(hc.overrides.task) or default


def make_logger_dir(cfg: DictConfig) -> None:
    """Create the configured logger's ``save_dir`` (W&B writes its run files there from its first
    call; a missing one makes it fall back to a temporary folder). No logger or none: nothing."""
    lc = cfg.get("logger")
    if lc and lc.get("_target_") and lc.get("save_dir"):
        Path(lc.save_dir).mkdir(parents=True, exist_ok=True)


def build_logger(cfg: DictConfig, make_dir: bool = True):
    """The configured Lightning logger, or False for ``logger=none``.

    Args:
        cfg: a composed entry config; its ``logger`` node (``_target_`` a Lightning logger class)
            is instantiated. A ``WandbLogger`` without ``offline`` set runs offline when W&B has
            no key (:func:`wandb_key_configured`) or ``WANDB_MODE`` is offline/dryrun; without
            ``name`` it is named by :func:`run_name`.
        make_dir: create ``save_dir`` now (:func:`make_logger_dir`); False leaves it to the
            caller, e.g. for after the run's input is checked, so a refused run leaves no folder.

    Returns:
        The logger (a ``lightning.pytorch.loggers.Logger``), or False when ``cfg.logger`` is
        missing, null or has no ``_target_``.

    Raises:
        hydra.errors.InstantiationError: the logger class cannot be imported or built.
    """
    lc = cfg.get("logger")
    if not lc or lc.get("_target_") is None:
        return False
    kwargs = {}
    if lc._target_.endswith("WandbLogger"):
        if lc.get("offline") is None:
            kwargs["offline"] = not wandb_key_configured() or os.environ.get("WANDB_MODE") in (
                "offline",
                "dryrun",
            )
        if not lc.get("name"):
            kwargs["name"] = run_name()
    if make_dir:
        make_logger_dir(cfg)
    return instantiate(lc, **kwargs)


def build_training_loggers(cfg: DictConfig) -> list:
    """The loggers of a training run: the configured one (:func:`build_logger`), and a CSV log
    beside it (``<run>/csv/version_*/metrics.csv``) unless ``cfg.csv_log`` is false or the
    configured logger is already CSV. The CSV log is what ``drumtx.evaluation.train_curves``
    reads, so every run's curves can be plotted offline, whatever else logs them (W&B).

    Args:
        cfg: a composed training config (``logger`` node, ``csv_log``, ``paths.output_dir``).

    Returns:
        A list of Lightning loggers, possibly empty (``logger=none csv_log=false``). No folder
        is made: the configured logger's ``save_dir`` is left to :func:`make_logger_dir`, once
        the run's data has been checked.
    """
    from lightning.pytorch.loggers import CSVLogger

    configured = build_logger(cfg, make_dir=False)
    loggers = [configured] if configured else []
    if cfg.get("csv_log", True) and not any(isinstance(lg, CSVLogger) for lg in loggers):
        # (no folder made here: CSVLogger makes it at its first write, so a run refused before
        # training, e.g. for data that is missing, leaves no empty paths.output_dir behind)
        loggers.append(CSVLogger(save_dir=cfg.paths.output_dir, name="csv"))
    return loggers


def finish_logger(logger, status: str | None = "success") -> None:
    """End a logger's run: ``logger.finalize(status)`` (None: a Trainer has finalized it), then,
    for W&B, ``wandb.finish()``: one W&B run per job, also in a sweep and after a failure.

    Args:
        logger: what :func:`build_logger` returned (False: nothing to do).
        status: passed to ``finalize`` (``"success"``, ``"failed"``), or None to skip it.
    """
    if not logger:
        return
    if status is not None:
        logger.finalize(status)
    from lightning.pytorch.loggers import WandbLogger

    if isinstance(logger, WandbLogger):
        import wandb

        wandb.finish()


def build_callbacks(cfg: DictConfig, has_logger: bool = True) -> list:
    """The configured callbacks; a learning-rate monitor only where a logger can take it.
    :class:`FiniteGuard` always comes first: a NaN loss or metric stops every run.

    Args:
        cfg: a composed training config; each non-null entry of ``cfg.callbacks`` with a
            ``_target_`` is instantiated, in order.
        has_logger: False leaves out ``LearningRateMonitor`` (Lightning refuses it without one).

    Returns:
        The Lightning callbacks, :class:`~drumtx.models.callbacks.FiniteGuard` first.
    """
    out = [FiniteGuard()]
    for c in (cfg.get("callbacks") or {}).values():
        if c is None or not c.get("_target_"):
            continue
        if not has_logger and c._target_.endswith("LearningRateMonitor"):
            continue  # Lightning refuses it without a logger (logger=none)
        out.append(instantiate(c))
    return out
