"""One-line error text, the form every drumtx message takes (see :mod:`drumtx.cli`)."""

from __future__ import annotations


def one_line(message: object) -> str:
    """``message`` (text or an exception) with every run of whitespace, newlines included, as one space."""
    return " ".join(str(message).split())


def exception_line(exc: BaseException, reasons: tuple[type[BaseException], ...] = ()) -> str:
    """An exception as one line: ``Type: message`` (just ``Type`` when it has no message).

    Args:
        exc: the exception.
        reasons: exception types whose message is already a reason written for the user
            (e.g. :class:`drumtx.audio.AudioError`): those come without the type name.

    Returns:
        One line of text, no newline.
    """
    text = one_line(exc)
    if text and isinstance(exc, reasons):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
