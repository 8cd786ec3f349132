"""Output paths checked before any work starts.

Every ``--out``, ``-o``, ``--junit``, ``--summary`` and ``--store`` is checked when the command
starts, so a typo costs a second rather than a whole evaluation: the path must be of the right
kind (a file where a file is written, a folder where a folder is) and its nearest existing parent
must accept a new entry. That is probed by creating and removing a temporary entry, which is the
only test that also holds for read-only mounts, ``/proc`` and full quotas, where permission bits
say nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import GanevalError


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def _probe(folder: Path, flag: str, target: Path) -> None:
    if not folder.is_dir():
        raise GanevalError(f"{flag} {target}: {folder} is a file, so nothing can be created under it; "
                           "choose another path.")
    try:
        tmp = tempfile.mkdtemp(prefix=".ganeval-probe-", dir=folder)
    except OSError as exc:
        raise GanevalError(f"{flag} {target}: cannot write in {folder} ({exc.strerror or exc}); "
                           "choose a writable location.") from exc
    os.rmdir(tmp)


def check_output_file(path: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """Check that ``path`` can be written as a file (its parent may still have to be made).

    Args:
        path: the file to be written (None: nothing to check).
        flag: the flag that named it, for the message (e.g. ``"-o"``).

    Raises:
        GanevalError: ``path`` is an existing folder, or no file can be created there.
    """
    if path is None:
        return None
    p = Path(path)
    if str(path).strip() == "":
        raise GanevalError(f"{flag}: an empty path; give a file name.")
    if p.is_dir():
        raise GanevalError(f"{flag} {p}: is a folder; give a file path inside it, e.g. {p / 'out'}.")
    if p.exists() and not os.access(p, os.W_OK):
        raise GanevalError(f"{flag} {p}: the file exists and is not writable; choose another path.")
    _probe(_nearest_existing(p.parent), flag, p)
    return p


def check_output_dir(path: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """Check that ``path`` can be used (or created) as a folder.

    Raises:
        GanevalError: ``path`` is an existing file, or the folder cannot be created or written.
    """
    if path is None:
        return None
    p = Path(path)
    if str(path).strip() == "":
        raise GanevalError(f"{flag}: an empty path; give a folder name.")
    if p.exists() and not p.is_dir():
        raise GanevalError(f"{flag} {p}: is a file, not a folder; choose a folder path.")
    _probe(_nearest_existing(p), flag, p)
    return p
