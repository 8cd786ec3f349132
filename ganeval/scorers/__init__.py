"""Metric adapters for :func:`ganeval.evaluate`: importing this package registers them all."""

from . import basic  # noqa: F401
from . import coverage  # noqa: F401
from . import likelihood  # noqa: F401
from . import frechet  # noqa: F401
