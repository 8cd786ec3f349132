"""Metrics: pure functions, arrays in, frozen result dataclasses out.

They validate their inputs (raising :class:`ganeval.GanevalError`, a ``ValueError``, that names
the argument) and know nothing of files, plots or the CLI.
"""

from .coverage import ModeCoverage, mode_coverage

__all__ = ["ModeCoverage", "mode_coverage"]
