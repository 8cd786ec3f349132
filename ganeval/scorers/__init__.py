"""Metric adapters for :func:`ganeval.evaluate`: importing this package registers them all.

Every module of this package is imported (in name order), so a new adapter module is picked up
without editing this file (see docs/extending.md).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
