"""The one rule for every output path of the command line: parents are created, nothing else.

A missing folder on the way is created (as ``mkdir -p`` would); a path that is a folder, or
whose parent cannot be created or is not a folder (``/dev/null/x``), is a clean error that the
command turns into exit code 2 — never a traceback, never a false "wrote ...".
"""

from __future__ import annotations

from pathlib import Path


class OutputPathError(Exception):
    """An output path cannot be written; the message names the option and the path."""


def output_file(path: Path, option: str) -> Path:
    """Make ``path`` writable as a file (parents created) or raise :class:`OutputPathError`."""
    if path.is_dir():
        raise OutputPathError(f"{option}: {path} is a folder, give a file name")
    _make_folder(path.parent, option)
    return path


def output_folder(path: Path, option: str) -> Path:
    """Make ``path`` an existing folder (parents created) or raise :class:`OutputPathError`."""
    _make_folder(path, option)
    return path


def _make_folder(folder: Path, option: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputPathError(f"{option}: {folder} exists and is not a folder") from None
    except OSError as exc:
        raise OutputPathError(f"{option}: cannot create folder {folder} ({exc.strerror or exc})") from None
