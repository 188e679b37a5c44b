"""The recipe blocks' settings dataclasses (``data.synth.variety``, ``.production``,
``.accompaniment``) read from a config mapping, with one line naming the key that is wrong."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

C = TypeVar("C")


def config_from_mapping(cls: type[C], cfg: Mapping | None, where: str, error: type[Exception] = ValueError,
                        ranges: Iterable[str] = ()) -> C:
    """``cls(**cfg)`` for a settings dataclass, its keys and values checked.

    Args:
        cls: the dataclass; keys left out of ``cfg`` keep its defaults.
        cfg: the recipe block (a dict or an OmegaConf node); None or empty: all defaults.
        where: the block's config path for the messages, e.g. ``data.synth.production``.
        error: the exception class raised.
        ranges: fields that must be ``[low, high]``: two numbers, low <= high.

    Returns:
        the ``cls`` instance.

    Raises:
        error: a key ``cls`` has no field for (the message names the closest known key, or lists
            them all where one is not close to any); a value of
            another type than its default's (a number, finite, where the default is one; a list
            of numbers where the default is; true or false); a field named ``prob`` or ending in
            ``_prob`` outside [0, 1]; a ``ranges`` field that is not [low, high]. One line naming
            the key and the value, before anything runs.
    """
    cfg = dict(cfg or {})
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        close = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
        if all(close.values()):  # (the whole list of keys is ~900 characters for production)
            raise error(f"{where}: unknown keys {unknown} (did you mean "
                        + ", ".join(repr(c[0]) for c in close.values()) + "?)")
        raise error(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    base, ranges = cls(), list(ranges)
    for name, value in cfg.items():  # a single name where a list of names is expected: a one-item list
        default = getattr(base, name)
        if isinstance(value, str) and isinstance(default, list) and default and all(isinstance(d, str) for d in default):
            cfg[name] = [value]
    out = cls(**cfg)
    for name in known:
        value, default = getattr(out, name), getattr(base, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise error(f"{where}.{name} must be true or false, got {value!r}")
        elif _number(default):
            if not _number(value):
                raise error(f"{where}.{name} must be a finite number, got {value!r}")
        elif isinstance(default, list) and default and all(map(_number, default)):
            if isinstance(value, str) or not isinstance(value, Sequence) or not all(map(_number, value)):
                what = "[low, high]" if name in ranges else "a list of finite numbers"
                raise error(f"{where}.{name} must be {what}, got {value!r}")
    for name in known:
        value = getattr(out, name)
        if (name == "prob" or name.endswith("_prob")) and not 0.0 <= float(value) <= 1.0:
            raise error(f"{where}.{name} must be in [0, 1], got {value}")
    for name in ranges:
        value = getattr(out, name)
        if not isinstance(value, Sequence) or len(value) != 2 or float(value[0]) > float(value[1]):
            raise error(f"{where}.{name} must be [low, high], got {value}")
    return out


def _number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
