"""Metric adapters for :func:`ganeval.evaluate`: importing this package registers them all."""

from . import basic, conditional, coverage, frechet, images, likelihood  # noqa: F401
