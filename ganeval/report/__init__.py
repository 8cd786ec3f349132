"""Rendering evaluations: JSON, PNG figures (and later HTML / CSV). Written atomically."""

from .writer import write_report

__all__ = ["write_report"]
