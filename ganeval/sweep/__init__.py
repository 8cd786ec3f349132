"""Sweeps: jobs and their keys, the result store, the local and Ray executors (DESIGN.md §9)."""

from .engine import SweepResult, run_sweep
from .jobs import Job, Settings
from .store import Store, default_store, export_results, load_results

__all__ = ["Job", "Settings", "Store", "SweepResult", "default_store", "export_results", "load_results", "run_sweep"]
