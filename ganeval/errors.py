"""The one exception type for user-facing failures.

Every error a user can cause (a missing or corrupt file, a wrong shape, NaN samples, an unknown
name) raises :class:`GanevalError` with a message that names the input and says how to fix it.
It subclasses :class:`ValueError` so that metric functions can be used like any scientific
Python function (``except ValueError`` works) while the CLI can tell user errors from bugs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanevalError(ValueError):
    """A failure caused by the user's input; the message names the input and the fix."""


def unknown_name(kind: str, name: str, choices: Iterable[str], hint: str = "") -> GanevalError:
    """Build the error for an unknown registry name, suggesting near misses.

    Args:
        kind: what was looked up ("dataset", "metric", ...).
        name: the name the user gave.
        choices: the valid names.
        hint: an optional extra sentence (how to list or add names).

    Returns:
        A :class:`GanevalError` to raise, e.g. "Unknown dataset 'rng8'. Did you mean: ring8?".
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    msg = f"Unknown {kind} {name!r}."
    if close:
        msg += f" Did you mean: {', '.join(close)}?"
    msg += f" Known {kind}s: {', '.join(choices)}."
    if hint:
        msg += " " + hint
    return GanevalError(msg)
