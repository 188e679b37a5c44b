"""The contract every drumtx command keeps, in one place.

Every command (``drumtx-train`` … or ``python -m drumtx.<command>``, listed in ``pyproject.toml``
``[project.scripts]`` and in the README) answers ``--version`` with ``drumtx X.Y.Z`` and exits with

* ``0`` (:data:`EXIT_OK`): everything asked for was done;
* ``1`` (:data:`EXIT_SOME_FAILED`): some inputs failed (each named on its own line), the rest were done;
* ``2`` (:data:`EXIT_USAGE`): bad usage or setup (unknown option, config typo, missing checkpoint or
  data folder); nothing was done.
* ``130`` (:data:`EXIT_INTERRUPTED`): stopped by Ctrl-C (``drumtx.transcribe``, ``drumtx.train``) or SIGTERM too
  (``drumtx.synth``); what was done is kept whole, and the same command resumes.

Errors are one line on stderr, ``<command>: <message>``. An unexpected exception (a bug) still
prints its traceback and exits 1, as Python does.

Hydra commands get all of this from :func:`hydra_main`, which replaces ``@hydra.main``;
argparse commands call :func:`add_version` on their parser (argparse exits 2 on bad usage).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from omegaconf import OmegaConf

from drumtx import CONF_DIR, PROJECT_ROOT, __version__
from drumtx.errors import one_line
from drumtx.extras import extra_message, missing_train_module

if TYPE_CHECKING:
    from drumtx.config_schema import Value

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C

_FULL_ERROR = "HYDRA_FULL_ERROR"


def is_base_option(name: object) -> bool:
    """Whether a group option named ``name`` is an abstract base (``conf/data/base.yaml``).

    A base holds what the other options of its group share (they list it in their defaults) and
    leaves required keys (``???``) to them: it is never listed by ``--help`` and never run. The
    rule is the name: a file whose name starts with ``base``.
    """
    return isinstance(name, str) and name.rpartition("/")[2].startswith("base")


def group_options(group: str) -> str:
    """The options of config group ``group``, e.g. ``"five_branch, flat"``, for the ``--help`` texts.

    Read from ``<CONF_DIR>/<group>/*.yaml`` and, for ``experiment``, the checkout's
    ``experiments/experiment/`` (Hydra's search path in ``conf/train.yaml``; absent from a wheel),
    so the help never lists an option that is not there; bases (:func:`is_base_option`) are left
    out. Used as ``${drumtx_options:<group>}`` in ``conf/hydra/help/*.yaml``.
    """
    names = {
        p.stem for root in (CONF_DIR, PROJECT_ROOT / "experiments") for p in (root / group).glob("*.yaml")
        if not is_base_option(p.stem)
    }
    return ", ".join(sorted(names)) if names else "(none here)"


def config_groups(config_name: str) -> str:
    """The config groups of entry config ``config_name``, one ``  group: options`` line each.

    The groups are those of ``conf/<config_name>.yaml``'s defaults list (Hydra's own ``hydra``
    and ``override`` entries left out), so a group added there shows up in ``--help`` by itself;
    the folders that are data tables (``conf/kits``, ``conf/label_maps``) are never listed, as no
    defaults list names them. Used as ``${drumtx_groups:<config>}`` in ``conf/hydra/help/*.yaml``.
    """
    groups = []
    for entry in OmegaConf.load(CONF_DIR / f"{config_name}.yaml").get("defaults") or []:
        key = next(iter(entry)) if OmegaConf.is_dict(entry) else None
        if key and key != "hydra" and not key.startswith("override "):
            groups.append(key)
    width = max((len(g) for g in groups), default=0) + 1
    return "\n".join(f"  {g + ':':<{width}} {group_options(g)}" for g in groups)


OmegaConf.register_new_resolver("drumtx_options", group_options, replace=True)
OmegaConf.register_new_resolver("drumtx_groups", config_groups, replace=True)


def version_text() -> str:
    """What ``--version`` prints: ``drumtx X.Y.Z``."""
    return f"drumtx {__version__}"


def add_version(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--version`` (prints :func:`version_text`, exits 0) to an argparse command; returns ``parser``."""
    parser.add_argument(
        "--version", action="version", version=version_text(), help="print drumtx's version and exit"
    )
    return parser


def prog_name(module: str) -> str:
    """How the running command names itself in usage and error lines: the console script's name
    when run as one (``drumtx-transcribe``), else ``python -m <module>``."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return script if script.startswith("drumtx-") else f"python -m {module}"


def error(prog: str, message: object) -> None:
    """Print ``<prog>: <message>`` to stderr on one line."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr, flush=True)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, ``<prefix>: <message>``, status 2, in place of
    the usage block; an unknown option names the closest known one ("did you mean --format?").

    Args:
        prefix: what starts the error line (default: ``prog``), e.g. ``python -m
            drumtx.transcribe: error``; other arguments as ``argparse.ArgumentParser``.
    """

    def __init__(self, *args: Any, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._args = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        fail(self.prefix or self.prog, f"{message}{self._suggestion(message)} (see --help)", EXIT_USAGE)

    def _suggestion(self, message: str) -> str:
        import difflib

        missing = re.fullmatch(r"argument (--[\w-]+)(?:/\S+)?: expected one argument", message)
        if missing:
            # argparse takes "-inf" or "-1e3" after an option for an option of its own (only
            # "-80"-like numbers pass), so a negative level given apart reads as no value at all
            option, args = missing.group(1), getattr(self, "_args", [])
            after = [args[i + 1] for i, a in enumerate(args[:-1]) if a == option]
            if not (after and after[0].startswith("-") and _is_number(after[0])):
                return ""
            value, convert = after[0], getattr(self._option_string_actions.get(option), "type", None)
            try:
                if callable(convert):
                    convert(value)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:  # refused with '=' too: say why
                return f" (and {option}={value} is refused too: {exc})"
            return f" (a value that starts with '-' goes after '=': {option}={value})"
        if not message.startswith("unrecognized arguments: "):
            return ""
        known = [o for o in self._option_string_actions if o.startswith("--")]
        close = []
        for arg in message.removeprefix("unrecognized arguments: ").split():
            option = arg.split("=", 1)[0]
            if option.startswith("--"):
                close += difflib.get_close_matches(option, known, n=1, cutoff=0.6)
        return f" (did you mean {' / '.join(dict.fromkeys(close))}?)" if close else ""


def module_parser(module: str, description: str | None = None, **kwargs: Any) -> OneLineParser:
    """The argument parser of a drumtx command run as ``python -m <module>`` (or its console
    script): usage names the command as it was run (:func:`prog_name`), a usage error is one line
    ``<module>: <message>`` with status 2 (:class:`OneLineParser`), ``--version`` added; further
    arguments as ``argparse.ArgumentParser``."""
    return add_version(OneLineParser(prog=prog_name(module), prefix=module, description=description, **kwargs))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fail(prog: str, message: object, code: int = EXIT_USAGE) -> NoReturn:
    """:func:`error`, then exit with ``code`` (default 2, bad usage or setup).

    A refusal (2) inside a Hydra run also removes the run folder when it holds only what Hydra
    wrote at start-up (:func:`discard_refused_run`): nothing was done, so nothing is left.
    """
    error(prog, message)
    if code == EXIT_USAGE:
        discard_refused_run()
    sys.exit(code)


def in_sweep() -> bool:
    """Whether this is a job of a ``-m`` sweep: a command's bad-input error is then raised, not
    :func:`fail`, so the sweeper records the job as failed and goes on to the next one
    (:func:`job_failed`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


# The bad-input errors a sweep's jobs have reported in one line (job_failed): hydra_main then
# ends the sweep with one line instead of Hydra's traceback, and drumtx's Optuna sweeper logs
# them without one. Kept as objects (not ids) so that no id is reused.
_REPORTED: list[BaseException] = []


def reported(exc: BaseException) -> bool:
    """Whether ``exc`` is a sweep job's bad input that :func:`job_failed` has already reported."""
    return any(exc is e for e in _REPORTED)


def job_failed(prog: str, exc: BaseException, code: int = EXIT_USAGE, message: object = None) -> NoReturn:
    """A command's bad input (``exc``, being handled): :func:`fail` with ``message`` (default:
    ``exc``'s text) and ``code`` in a single run. In a job of a ``-m`` sweep, the job's one line
    instead, ``<prog>: job #N (<its overrides>): <message>``, on stderr and in the job's log file,
    and ``exc`` raised again: the sweeper records the job as failed and runs the next one.
    Hydra's basic sweeper then ends with one line naming how many jobs failed, exit status 1
    (:func:`hydra_main`); drumtx's Optuna sweeper records a FAIL trial with this message.

    Raises:
        SystemExit: ``code``, outside a sweep.
        BaseException: ``exc`` itself, inside a sweep.
    """
    text = one_line(exc if message is None else message)
    if not in_sweep():
        fail(prog, text, code)
    job_line(prog, text)
    _REPORTED.append(exc)
    raise exc


def job_line(prog: str, message: object) -> None:
    """``<prog>: job #N (<its overrides>): <message>`` on stderr and in the job's log file: what
    happened to one job of a ``-m`` sweep (its bad input, its interruption)."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    overrides = " ".join(hc.overrides.task)
    line = f"job #{hc.job.num}" + (f" ({overrides})" if overrides else "") + f": {one_line(message)}"
    error(prog, line)
    _to_job_log(prog, line)


def _to_job_log(prog: str, line: str) -> None:
    """``line`` as an ERROR record in the job's log file alone (Hydra's file handler on the root
    logger; its console handler would print it a second time, to stdout)."""
    import logging

    record = logging.LogRecord(prog, logging.ERROR, __file__, 0, line, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _config_error(exc: BaseException) -> str:
    """Hydra's composition error (and the OmegaConf error under it) as one line."""
    # Hydra appends its whole search path to a missing-option error: long, and rarely the point.
    text = one_line(str(exc).split("Config search path:")[0])
    cause = exc.__cause__
    if cause is not None:
        first = str(cause).strip().splitlines()
        if first and first[0].strip() not in text:
            text += f" ({first[0].strip()})"
    option = re.search(r"Could not find '([\w/]+)/([^'/]+)'\s+Available options in '[\w/]+':\s*(.*)", text)
    if option:  # a mistyped group option (data=synth_defualt): Hydra lists the options, here the closest first
        import difflib

        group, typed, listed = option.groups()
        close = difflib.get_close_matches(typed, listed.split(), n=1)
        if close:
            text += f" (did you mean {group}={close[0]}?)"
    params = re.search(r"Sweeping over Hydra's configuration is not supported : '?hydra\.sweeper\.params\.([^=']+)=([^']*)", text)
    if params:  # the search space is set on the command line by the key itself, as the sweeper's yaml lists it
        return text + f" (to search {params[1]}, give it as '{params[1]}={params[2]}' with -m)"
    block = _missing_settings_block(cause)  # a whole settings block the recipe does not have
    if block:
        text = re.sub(r"\. To append to your config use \+\S+", "", text)
        return text + f" (this recipe has no {block} block: choose a data option that has one, e.g. data=synth_songs)"
    unset = _unset_setting(cause)  # a real setting the yaml leaves at its default: the '+' is the way
    close = None if unset else _closest_key(cause)  # a mistyped key
    if unset or close:  # Hydra's "To append to your config use +key=…" names the key as typed
        text = re.sub(r"\. To append to your config use \+\S+", "", text)
        text += (f" ({unset} is a setting this config leaves at its default: add it with a '+', +{unset}=…)"
                 if unset else f" (did you mean {close}?)")
    return text


#: The settings dataclasses whose config block (each class's ``WHERE``) is read by
#: drumtx.synth.config.config_from_mapping: every field is a setting, and a recipe's yaml sets only
#: some of them, so an override of one it leaves out needs Hydra's '+' (a new-user trial: "did you
#: mean …clip_prob?" for cymbal_kit_prob).
SETTINGS_CLASSES = ("drumtx.synth.production:ProductionConfig", "drumtx.synth.accompaniment:AccompanimentConfig",
                    "drumtx.synth.effects:VarietyConfig")


def _unset_setting(cause: BaseException | None) -> str | None:
    """For OmegaConf's "Key 'k' is not in struct" under one of :data:`SETTINGS_CLASSES`, where
    ``k`` is a field of its dataclass: the full key (``data.synth.production.k``); else None."""
    key, full = getattr(cause, "key", None), str(getattr(cause, "full_key", "") or "")
    return full if key is not None and str(key) in _settings_fields(full.rpartition(".")[0]) else None


def _missing_settings_block(cause: BaseException | None) -> str | None:
    """For OmegaConf's "Key 'production' is not in struct" where ``data.synth.production`` is the
    ``WHERE`` of one of :data:`SETTINGS_CLASSES` (a recipe on the older ``variety`` chain has no
    production block, and a '+' on one of its settings then fails on ``variety``): that block."""
    full = str(getattr(cause, "full_key", "") or "")
    return full if getattr(cause, "key", None) is not None and _settings_fields(full) else None


def _settings_fields(block: str) -> set[str]:
    """The settings of the :data:`SETTINGS_CLASSES` class whose ``WHERE`` is ``block``; else empty."""
    import dataclasses
    import importlib

    for spec in SETTINGS_CLASSES:
        module, _, name = spec.partition(":")
        cls = getattr(importlib.import_module(module), name)
        if cls.WHERE == block:
            return {f.name for f in dataclasses.fields(cls)}
    return set()


def _closest_key(cause: BaseException | None) -> str | None:
    """For OmegaConf's "Key 'crahs' is not in struct", the closest key of the config node it
    was looked up in (``loss.crash``), by :func:`difflib.get_close_matches`, or of the settings
    of a :data:`SETTINGS_CLASSES` block or a config schema section
    (:func:`drumtx.config_schema.section_settings`), with a '+' where the config leaves it out;
    else None."""
    import difflib

    parent, key = getattr(cause, "parent_node", None), getattr(cause, "key", None)
    try:
        keys = [str(k) for k in parent.keys()] if parent is not None and key is not None else []
    except Exception:  # noqa: BLE001 - a node without keys: no suggestion
        return None
    from drumtx.config_schema import section_settings

    full = str(getattr(cause, "full_key", "") or key)
    block = full.rpartition(".")[0]
    # a name-keyed map's names (loss.shared_weights: the head targets) are settings too
    unset = (_settings_fields(block) | set(section_settings(block))) - set(keys)
    close = difflib.get_close_matches(str(key), keys + sorted(unset), n=1, cutoff=0.6)
    if not close:
        return None
    plus = "+" if close[0] in unset else ""
    return plus + (full[: len(full) - len(str(key))] + close[0] if full.endswith(str(key)) else close[0])


def _module_name(fn: Callable) -> str:
    """``fn``'s module, ``drumtx.train`` rather than ``__main__`` under ``python -m drumtx.train``."""
    name = fn.__module__
    if name == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        name = spec.name if spec is not None else name
    return name


def _base_choices() -> list[str]:
    """``group=option`` of every chosen group option that is a base (:func:`is_base_option`)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    choices = HydraConfig.get().runtime.choices
    return [f"{group}={name}" for group, name in choices.items() if is_base_option(name)]


# A run folder's .hydra/ files as they were before Hydra rewrote them for this command (None: the
# folder existed without one), by .hydra path; filled by RunRecordKeeper, read by discard_refused_run.
_HYDRA_BEFORE: dict[Path, dict[str, bytes] | None] = {}
# Run folders that did not exist before this command's Hydra made them (RunRecordKeeper), each
# with the outermost folder made with it (outputs/ in a fresh clone): all that a refused command
# finds in one is its own, its log's lines included.
_NEW_RUN_DIRS: dict[Path, Path] = {}
# Job logs (<run>/<job name>.log) Hydra is about to start in a run folder that exists: a refused
# command removes the one it started there (RunRecordKeeper, discard_refused_run).
_NEW_LOGS: set[Path] = set()
# The sweep folder of a -m run (RunRecordKeeper.on_multirun_start): its path, the outermost folder
# made with it (None: it existed) and its multirun.yaml as it was (None: none); read by
# discard_refused_sweep.
_SWEEP: dict[str, Any] = {}


def _outermost_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (what making
    ``folder`` would create first); None where ``folder`` exists."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    return missing[-1] if missing else None


def _remove_empty(folders: Iterable[Path]) -> None:
    """``rmdir`` each folder in turn (innermost first) until one holds anything or holds the
    working directory. Raises OSError as ``rmdir`` does."""
    for folder in folders:
        if any(folder.iterdir()) or Path.cwd().resolve().is_relative_to(folder):
            break
        folder.rmdir()


class RunRecordKeeper:
    """Hydra callback (``hydra.callbacks`` in ``conf/hydra/default.yaml``): before a single run
    starts, remember the ``.hydra/`` record of the run folder it will write into, when that
    folder exists (a resume, ``hydra.run.dir=<run>``). Hydra rewrites that record before the
    command checks its config; a refused command (:func:`discard_refused_run`) puts it back,
    so a typo in a resume does not replace the run's own config with the refused one. A folder
    that does not exist yet is remembered as this command's own, to be removed whole on a refusal.
    """

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        try:
            run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir"))).resolve()
            sub = OmegaConf.select(config, "hydra.output_subdir")
        except Exception:  # an interpolation only Hydra's job can resolve: nothing to keep
            return
        if sub is None:
            return
        made = _outermost_missing(run_dir)
        if made is not None:
            _NEW_RUN_DIRS[run_dir] = made
            return
        _NEW_RUN_DIRS.pop(run_dir, None)
        if not run_dir.is_dir():
            return
        hydra_dir = run_dir / str(sub)
        log = run_dir / f"{OmegaConf.select(config, 'hydra.job.name')}.log"
        if not log.exists():
            _NEW_LOGS.add(log)
        _HYDRA_BEFORE[hydra_dir] = (
            {p.name: p.read_bytes() for p in hydra_dir.iterdir() if p.is_file()} if hydra_dir.is_dir() else None
        )

    # Hydra calls every hook of a callback; the others do nothing here.
    def on_run_end(self, config: Any, **kwargs: Any) -> None: ...
    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """Remember the sweep folder before the sweeper writes its ``multirun.yaml`` there."""
        _SWEEP.clear()
        try:
            sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir"))).resolve()
        except Exception:  # an interpolation only Hydra's job can resolve: nothing to keep
            return
        record = sweep_dir / "multirun.yaml"
        _SWEEP.update(dir=sweep_dir, made=_outermost_missing(sweep_dir),
                      before=record.read_bytes() if record.is_file() else None)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None: ...
    def on_compose_config(self, config: Any, **kwargs: Any) -> None: ...


def _restore_hydra_record(hydra_dir: Path, before: dict[str, bytes] | None) -> None:
    """Put a run folder's ``.hydra/`` back as :class:`RunRecordKeeper` found it."""
    import shutil

    from drumtx.atomic import atomic_output

    if before is None:
        shutil.rmtree(hydra_dir, ignore_errors=True)
        return
    for p in hydra_dir.iterdir() if hydra_dir.is_dir() else ():
        if p.is_file() and p.name not in before:
            p.unlink()
    for name, data in before.items():
        with atomic_output(hydra_dir / name) as tmp:
            Path(tmp).write_bytes(data)


def discard_refused_run() -> None:
    """Remove the Hydra run folder of a command refused before it did anything, when the folder
    holds only what Hydra itself wrote there at start-up: ``.hydra/`` and the job log, which
    must be empty unless this command made the folder (:class:`RunRecordKeeper`; its lines are
    then the refused command's own, e.g. which checkpoint it tried).

    A typo would otherwise leave a dated folder that looks like a run (and its task's folder, when
    that is left empty). A folder holding anything else (a run resumed into it, a log with lines
    from before) is left as it is, as is the working directory (``hydra.run.dir=.``), and its
    ``.hydra/``, which Hydra has rewritten by then, is put back as it was. Does nothing outside a
    Hydra single run.
    """
    import shutil

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.RUN:
        return
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir).resolve()
    log = run_dir / f"{hc.job.name}.log"
    hydra_dir = run_dir / (hc.output_subdir or ".hydra")
    if hydra_dir in _HYDRA_BEFORE:  # the folder was there before this command: its record goes back
        try:
            _restore_hydra_record(hydra_dir, _HYDRA_BEFORE.pop(hydra_dir))
            if log in _NEW_LOGS:  # the log this command started there holds only its own lines
                _NEW_LOGS.discard(log)
                _close_file_logs(log)
                log.unlink(missing_ok=True)
        except OSError:
            pass  # best effort, as below
        return
    entries = set(run_dir.iterdir()) if run_dir.is_dir() else set()
    if not entries or not entries <= {hydra_dir, log} or Path.cwd().resolve().is_relative_to(run_dir):
        return
    if log.exists() and (not log.is_file() or (log.stat().st_size > 0 and run_dir not in _NEW_RUN_DIRS)):
        return
    if hydra_dir.exists() and any(not p.is_file() or p.suffix != ".yaml" for p in hydra_dir.iterdir()):
        return
    try:
        if hydra_dir.exists():
            shutil.rmtree(hydra_dir)
        _close_file_logs(log)
        log.unlink(missing_ok=True)
        run_dir.rmdir()
        made = _NEW_RUN_DIRS.pop(run_dir, None)
        # the folders made with it (outputs/evaluate/ in a fresh clone), else the task's folder of
        # dated runs (conf/hydra/default.yaml: <log_dir>/<task>/<date_time>), when this run was its only one
        dated = re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}", run_dir.name)
        if made is not None:
            parents = run_dir.parents[: len(run_dir.relative_to(made).parts)]
        else:
            parents = run_dir.parents[:1] if dated else ()
        _remove_empty(parents)
    except OSError:
        pass  # best effort: the refusal itself is what the user needs to see


def discard_refused_sweep() -> None:
    """Undo what a ``-m`` sweep refused before its first job (a typo in a swept key) left: Hydra's
    sweeper writes ``multirun.yaml`` into the sweep folder before it composes any job, so the
    typo left a dated folder that looked like a sweep. The record goes back as it was
    (:class:`RunRecordKeeper`), and the folders this command made are removed when nothing else
    is in them. Does nothing where no sweep started; best effort (the refusal is what matters)."""
    if not _SWEEP:
        return
    sweep_dir, made, before = _SWEEP["dir"], _SWEEP["made"], _SWEEP["before"]
    _SWEEP.clear()
    record = sweep_dir / "multirun.yaml"
    try:
        if before is not None:
            record.write_bytes(before)
            return
        record.unlink(missing_ok=True)
        if made is None:
            return
        _remove_empty((sweep_dir, *sweep_dir.parents[: len(sweep_dir.relative_to(made).parts)]))
    except OSError:
        pass


def _close_file_logs(path: Path) -> None:
    """Close and detach the logging handlers writing to ``path`` (Hydra's job log), so that
    removing it leaves no handler that would create it again."""
    import logging

    path = path.resolve()
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in list(getattr(logger, "handlers", ())):
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).resolve() == path:
                logger.removeHandler(handler)
                handler.close()


def check_config(prog: str, cfg: Any, schema: Mapping[str, Value] | None, required: bool = True) -> None:
    """Refuse a base option (``data=base``) and check ``cfg`` against ``schema`` before a command runs.

    Args:
        prog: the command, e.g. ``drumtx.prepare``, for the message.
        cfg: the composed entry config; normalised in place (:func:`drumtx.config_schema.validate`).
        schema: key -> :class:`drumtx.config_schema.Value`, or None (only the base check).
        required: refuse a required key left unset (``???``); False for a printout (``--cfg job``).

    Raises:
        SystemExit: 2 after one line ``<prog>: <key>=<value>: expected …`` on stderr.
        drumtx.config_schema.ConfigValueError: the same error in a ``-m`` sweep's job, after the
            job's line (:func:`job_failed`), so the sweeper records the job as failed and goes on.
    """
    from drumtx.config_schema import ConfigValueError

    try:
        config_problem(cfg, schema, required)
    except ConfigValueError as exc:
        job_failed(prog, exc, EXIT_USAGE)


def config_problem(cfg: Any, schema: Mapping[str, Value] | None, required: bool = True) -> None:
    """:func:`check_config`'s checks, raising instead of reporting.

    Raises:
        drumtx.config_schema.ConfigValueError: the first problem, as one line.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from drumtx.config_schema import ConfigValueError, check_added_top_level, validate

    bases = _base_choices()
    if bases:
        group = bases[0].partition("=")[0]
        raise ConfigValueError(
            f"{bases[0]}: an abstract base the other {group} options extend, not an option to run; "
            f"choose one of {group_options(group)}"
        )
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        check_added_top_level(list(hydra_cfg.overrides.task), cfg, hydra_cfg.runtime.choices)
    if schema is not None:
        validate(cfg, schema)
    missing = [str(k) for k in cfg if k != "hydra" and OmegaConf.is_missing(cfg, k)] if required else []
    if missing:  # `ckpt: ???`: one line, not omegaconf's traceback when it is first read
        raise ConfigValueError(f"{missing[0]}: required, not given (add {missing[0]}=…; see --help)")


def hydra_main(
    config_name: str, schema: Mapping[str, Value] | None = None,
    sweep_check: Callable[[Any, set[str]], str | None] | None = None,
) -> Callable[[Callable[[Any], Any]], Callable[..., Any]]:
    """``@hydra.main`` for a drumtx command, reading ``<CONF_DIR>/<config_name>.yaml``, plus the contract.

    The config directory is the absolute :data:`drumtx.CONF_DIR`, so the command finds ``conf/``
    from a checkout, an editable install and an installed wheel alike, whether started as a
    console script or with ``python -m``.

    On top of Hydra's own command line (overrides, ``--cfg job``, ``--help``, ``-m``), the
    decorated ``main()``:

    * prints :func:`version_text` for ``--version`` (Hydra's own flag would print Hydra's version);
    * without ``pip install 'drumtx[train]'`` (:mod:`drumtx.extras`), says so in one line, exit
      status 2, before anything runs (``--help`` still prints);
    * turns an error composing the config (a typo in an override, an unknown option) or making
      the run folder (a file in its place) into one line on stderr and exit status 2 (Hydra
      prints several lines and exits 1). Errors inside the command keep Hydra's handling: a
      command exits 2 itself for bad setup; a traceback is a bug;
    * before the command runs, refuses a base option (``data=base``) and checks the composed
      config against ``schema`` (:func:`check_config`): a value of the wrong type or range is one
      line naming the key, exit status 2, and the run folder Hydra made for it is removed when
      it holds nothing else (:func:`discard_refused_run`);
    * returns None from the command line, so a console script's ``sys.exit(main())`` exits 0
      (a command may return a value for a sweeper, e.g. train's optimized metric).

    ``main(cfg)`` with a composed config runs the command directly (tests), as with ``@hydra.main``.

    Args:
        config_name: the entry config, e.g. ``"train"`` for ``conf/train.yaml``.
        schema: the typed keys of that config (``drumtx.config_schema.PREPARE`` …); None: none
            checked here (the command checks them itself).
        sweep_check: under ``-m``, called with the sweep's first job's config and the keys the
            sweep varies (``{"data", "loss.crash"}``), after the schema check
            (:func:`_check_first_sweep_job`): the reason every job would be refused (train: the
            data not there, unless the sweep varies it), or None. A reason is one line and exit
            status 2 before the sweep starts. A single run checks the same inside the command.

    Returns:
        A decorator for ``def main(cfg: DictConfig)``.
    """
    import hydra

    def decorate(task: Callable[[Any], Any]) -> Callable[..., Any]:
        module = _module_name(task)
        prog = module.removesuffix(".__main__")
        state: dict[str, Any] = {"started": False, "full_error": None, "jobs": 0, "failed": [], "basic": False,
                                 "sweep": False}

        @functools.wraps(task)
        def run_task(cfg):
            state["started"] = True
            state["jobs"] += 1
            state["sweep"] = in_sweep()
            # Errors from here on are the command's own: back to the user's HYDRA_FULL_ERROR.
            _set_env(_FULL_ERROR, state["full_error"])
            try:
                check_config(prog, cfg, schema)
                return task(cfg)
            except Exception as exc:
                if state["sweep"]:
                    state["failed"].append(exc)
                    state["basic"] = _basic_sweeper()
                    if reported(exc) and state["basic"]:
                        # its line is out; Hydra's basic sweeper would add "Error executing job with
                        # overrides" and stop at it after the batch: main() ends the sweep instead
                        return None
                raise
            finally:
                if state["failed"]:  # the basic sweeper raises a failed job's error after the others: to main()
                    os.environ[_FULL_ERROR] = "1"

        # Hydra names the job (its log file, hydra.job.name) after this module, not after cli.py.
        run_task.__module__ = module
        entry = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=config_name)(run_task)

        @functools.wraps(task)
        def main(cfg: Any = None) -> Any:
            if cfg is not None:
                return entry(cfg)
            if "--version" in sys.argv[1:]:
                print(version_text())
                return None
            missing = None if {"--help", "-h"} & set(sys.argv[1:]) else missing_train_module()
            if missing is not None:  # pip install drumtx without the train extra: before anything runs
                fail(prog, extra_message(prog, missing).removeprefix(f"{prog}: "), EXIT_USAGE)
            state.update(started=False, full_error=os.environ.get(_FULL_ERROR), jobs=0, failed=[], basic=False,
                         sweep=False)
            # Until the command starts, Hydra raises instead of printing: a config error becomes one line.
            os.environ[_FULL_ERROR] = "1"
            try:
                _check_shown_config(prog, config_name, schema)
                _check_first_sweep_job(prog, config_name, schema, sweep_check)
                entry()
                if state["failed"] and state["basic"]:  # a plain -m sweep whose failed jobs all had bad input
                    _end_failed_sweep(prog, state["failed"], state["jobs"])
                # (drumtx's Optuna sweeper recorded its failed trials and ran others in their place: done)
            except KeyboardInterrupt:  # (drumtx.train's own line comes first; a plain -m sweep gets this one)
                done = state["jobs"] - 1
                fail(prog, f"interrupted in job #{done} of the sweep; the {done} job(s) before it ran to their end"
                     if state["sweep"] else "interrupted", EXIT_INTERRUPTED)
            except Exception as exc:
                if state["started"] and state["full_error"] != "1" and any(exc is e for e in state["failed"]):
                    _end_failed_sweep(prog, state["failed"], state["jobs"])
                if state["started"] or state["full_error"] == "1":
                    raise
                discard_refused_sweep()  # (a -m sweep refused before its first job)
                if isinstance(exc, OSError) and exc.filename:  # Hydra could not make or write its run folder
                    fail(prog, f"cannot write the run folder: {exc.filename}: {exc.strerror}", EXIT_USAGE)
                fail(prog, f"bad config: {_config_error(exc)}", EXIT_USAGE)
            finally:
                _set_env(_FULL_ERROR, state["full_error"])
            return None

        return main

    return decorate


def _basic_sweeper() -> bool:
    """Whether this sweep runs under Hydra's basic sweeper (a plain ``-m``), not drumtx's Optuna
    sweeper, which must see a failed job raise to record its trial as failed."""
    from hydra.core.hydra_config import HydraConfig

    return str(HydraConfig.get().sweeper.get("_target_", "")).endswith(".BasicSweeper")


def _end_failed_sweep(prog: str, failed: list[BaseException], jobs: int) -> NoReturn:
    """The end of a ``-m`` sweep (Hydra's basic sweeper) after all its jobs ran and some failed.

    A job's bad input was named in its own line as it failed (:func:`job_failed`); any other
    error is a bug, and gets its traceback here (Hydra printed only the first failed job's). Then
    one line, how many jobs failed, and exit status 1 (some failed, the rest were done).
    """
    import traceback

    for exc in failed:
        if not reported(exc):
            error(prog, f"a job failed with {type(exc).__name__} (a bug):")
            traceback.print_exception(exc)
    fail(prog, f"{len(failed)} of {jobs} sweep jobs failed (each named above)", EXIT_SOME_FAILED)


def _as_job_config(cfg: Any) -> None:
    """A composed config (``return_hydra_config=True``) made what a command's ``main`` gets:
    its ``hydra`` node set as Hydra's own config (what :func:`check_config` reads: the choices
    and the task's overrides), then removed from ``cfg`` in place."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]


def _check_shown_config(prog: str, config_name: str, schema: Mapping[str, Value] | None) -> None:
    """Under ``--cfg job`` or ``--cfg all`` (one run, not ``-m``), check the config Hydra is about
    to print as :func:`check_config` would check it before running: Hydra prints it and exits
    without calling the command, so a previewed ``trainer.max_steps=-5`` looked fine.

    Raises:
        SystemExit: 2 after :func:`check_config`'s one line.
        Exception: Hydra's own composition error (the caller makes it one line).
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.utils import get_args_parser

    from drumtx.config_schema import ConfigValueError

    args, _ = get_args_parser().parse_known_args(sys.argv[1:])
    if args.cfg not in ("job", "all") or args.multirun or args.help or args.hydra_help:
        return
    if args.config_dir or args.config_name or args.config_path:
        return  # another config than the command's own: Hydra prints it as it composes it
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name=prog):
        cfg = compose(config_name, overrides=list(args.overrides), return_hydra_config=True)
    _as_job_config(cfg)
    try:
        # a required key left unset is what the printout shows (??? : "every key you can set")
        check_config(prog, cfg, schema, required=False)
    except ConfigValueError as exc:  # a preset that sets hydra.mode: MULTIRUN (hparams_search=…)
        fail(prog, exc, EXIT_USAGE)


def _first_value(override: Any) -> str | None:
    """The value a sweep override gives its first job, as Hydra's basic sweeper orders the jobs
    (a choice's or a range's first element, an interval's lower end: a value the Optuna sweeper
    may draw); None for a sweep whose values need the config to list (``glob(…)``)."""
    from hydra.core.override_parser.types import ValueType

    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        return None
    if override.is_interval_sweep():
        return str(override.value().start)
    return next(iter(override.sweep_string_iterator()), None)


def _check_first_sweep_job(prog: str, config_name: str, schema: Mapping[str, Value] | None,
                           sweep_check: Callable[[Any, set[str]], str | None] | None = None) -> None:
    """Under ``-m`` (or a preset that sweeps, ``hparams_search=…``), compose the sweep's first job
    (each swept key at its first value, the sweeper's ``params`` too) and check it as
    :func:`check_config` checks each job, before the sweeper makes its folder or its Optuna study.

    What every job shares (a typo in a ``+key``, ``optimizer.lr=abc``, a typo in a searched key)
    is then one line and exit status 2 with nothing left behind, not a traceback per job, a sweep
    folder (or an existing one's record overwritten) and a failed or stuck trial in the shared
    study that the corrected command would run again; so is ``sweep_check``'s reason (see
    :func:`hydra_main`). An error about a key the sweep varies is left to the jobs: a value
    only some jobs take stays those
    jobs' own failure (the sweeper records it and goes on). A single run is left to
    :func:`check_config` inside the command.

    Raises:
        SystemExit: 2 after :func:`check_config`'s one line.
        Exception: Hydra's own composition error (the caller makes it one line).
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode
    from omegaconf import open_dict

    from drumtx.config_schema import ConfigValueError

    args, _ = get_args_parser().parse_known_args(sys.argv[1:])
    if args.cfg or args.help or args.hydra_help or args.info or args.shell_completion:
        return
    if args.config_dir or args.config_name or args.config_path:
        return  # another config than the command's own: left to Hydra and the command
    parser = OverridesParser.create()

    def first_job(lines: list[str]) -> list[str] | None:
        out = []
        for o in parser.parse_overrides(lines):
            if not o.is_sweep_override():
                out.append(o.input_line)
                continue
            value = _first_value(o)
            if value is None:
                return None
            out.append(f"{o.get_key_element()}={value}")
        return out

    overrides = list(args.overrides)
    parsed = parser.parse_overrides(overrides)
    swept = [o for o in parsed if o.is_sweep_override()]
    if not args.multirun and not any(o.key_or_group == "hparams_search" for o in parsed):
        return  # a single run (a sweep preset is the one way to sweep without -m)
    if any(o.key_or_group.startswith("hydra.") for o in swept):
        return  # Hydra refuses a sweep over its own config itself (its message is made one line)
    lines = first_job(overrides)
    if lines is None:
        return
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name=prog):
        cfg = compose(config_name, overrides=lines, return_hydra_config=True)
        if not args.multirun and cfg.hydra.mode != RunMode.MULTIRUN:
            return
        params = cfg.hydra.sweeper.get("params") or {}
        given = {o.key_or_group for o in swept}
        extra = first_job([f"{k}={v}" for k, v in params.items() if str(k) not in given])
        if extra is None:
            return
        if extra:
            cfg = compose(config_name, overrides=lines + extra, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN  # (compose leaves -m's RUN)
    _as_job_config(cfg)
    varied = given | {str(k) for k in params}
    try:
        config_problem(cfg, schema)
    except ConfigValueError as exc:
        if not _names_a_varied_key(str(exc), varied):  # else another job's value may be fine
            fail(prog, exc, EXIT_USAGE)
    reason = sweep_check(cfg, varied) if sweep_check is not None else None
    if reason:
        fail(prog, reason, EXIT_USAGE)


def _names_a_varied_key(message: str, varied: set[str]) -> bool:
    """Whether a config error is about the value of a key a sweep varies (``key=value: …``,
    :mod:`drumtx.config_schema`'s form), or of one above or below it. An error about a key
    itself (``key: not a setting …``) is every job's, whatever the value."""
    match = re.match(r"\s*[+~]?([^\s=:]+)=", message)
    key = match[1] if match else None
    return key is not None and any(key == v or key.startswith(f"{v}.") or v.startswith(f"{key}.") for v in varied)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
