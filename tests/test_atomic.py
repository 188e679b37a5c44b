"""drumtx.atomic: a file appears whole or not at all, with the permissions a plain write gives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from drumtx.atomic import atomic_output, atomic_write_text, write_json


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_files_get_the_umask_not_mkstemps_0600(tmp_path: Path):
    old = os.umask(0o022)
    try:
        assert _mode(atomic_write_text(tmp_path / "a.csv", "x\n")) == 0o644
        assert _mode(write_json(tmp_path / "b.json", {"k": 1})) == 0o644
        os.umask(0o077)
        assert _mode(atomic_write_text(tmp_path / "c.txt", "x")) == 0o600
    finally:
        os.umask(old)


def test_a_replaced_file_keeps_its_mode(tmp_path: Path):
    p = tmp_path / "sidecar.json"
    p.write_text("{}")
    p.chmod(0o640)
    write_json(p, {"thresholds": {}})
    assert _mode(p) == 0o640 and "thresholds" in p.read_text()


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert p.read_text() == "old" and sorted(x.name for x in tmp_path.iterdir()) == ["out.txt"]


def test_interrupts_are_deferred_to_the_end_of_a_critical_section(python_sigint):
    import signal

    from drumtx.atomic import interrupts_deferred

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("after the signal")  # the section goes on to its end
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back
    with interrupts_deferred():  # nothing caught: nothing raised
        steps.append("quiet")
    # an ignored Ctrl-C stays ignored: the section ends quietly
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        steps.append("ignored")
    assert steps[-1] == "ignored" and signal.getsignal(signal.SIGINT) is signal.SIG_IGN

