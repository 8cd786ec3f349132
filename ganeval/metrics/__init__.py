"""Metrics: pure functions, arrays in, frozen result dataclasses out.

They validate their inputs (raising :class:`ganeval.GanevalError`, a ``ValueError``, that names
the argument) and know nothing of files, plots or the CLI.
"""

from .coverage import (
    ClassCoverage,
    ModeCoverage,
    NDBBins,
    NDBResult,
    class_coverage,
    hq_threshold,
    mode_coverage,
    ndb,
    ndb_bins,
    stacked_coverage,
)
from .frechet import FeatureStats, FIDInfinity, FIDResult, fid, fid_infinity, frechet_distance, load_stats, save_stats
from .kid import KIDResult, kid
from .memorisation import MemorisationResult, memorisation, nearest_neighbours
from .parzen import PAPER_SIGMAS, ParzenResult, parzen
from .prdc import PRDCResult, prdc

__all__ = ["ModeCoverage", "mode_coverage", "ClassCoverage", "class_coverage", "stacked_coverage",
           "NDBBins", "NDBResult", "ndb", "ndb_bins", "hq_threshold",
           "MemorisationResult", "memorisation", "nearest_neighbours", "PAPER_SIGMAS", "ParzenResult", "parzen",
           "FeatureStats", "FIDInfinity", "FIDResult", "fid", "fid_infinity", "frechet_distance", "load_stats",
           "save_stats", "KIDResult", "kid", "PRDCResult", "prdc"]
