"""Loading third-party plug-ins from entry points (``ganeval.metrics``, ``ganeval.extractors``, ...).

A leaf module: the metric registry and the extractor registry both call it, and it imports
nothing of ganeval but the error type.
"""

from __future__ import annotations

from typing import Any

from .errors import GanevalError


def load_entry_points(group: str) -> list[tuple[str, Any]]:
    """Load every entry point of ``group``: ``[(entry point name, loaded object)]``, sorted by name.

    Raises:
        GanevalError: an entry point that cannot be loaded (named, with its distribution).
    """
    from importlib.metadata import entry_points

    out: list[tuple[str, Any]] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:  # noqa: BLE001  (any import error of third-party code)
            dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
            raise GanevalError(f"Plug-in {ep.name!r} = {ep.value!r} of entry-point group {group!r} (from {dist}) "
                               f"failed to load ({type(exc).__name__}: {exc}); fix or uninstall it.") from exc
    return out


__all__ = ["load_entry_points"]
