"""Guard the project's own working folders (var/, runs/) against tests: snapshot them, compare later.

`make demo` writes its data, outbox and run folders into the project (``var/data``, ``var/outbox``,
``runs/<week>/``). A test that falls back to a default-relative setting would read or purge them, so
tests/conftest.py snapshots these folders when the session starts and fails the run if anything
under them was created, changed or deleted when it ends.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GUARDED = ("var", "runs")  # relative to the project root; var/ holds var/data, var/store, var/outbox, var/airflow

Entry = tuple[str, int, int]  # (kind, size, mtime_ns); size is 0 for folders
Snapshot = dict[str, Entry]  # project-relative path -> entry; a missing guarded folder has no entries


def snapshot(root: Path, folders: tuple[str, ...] = GUARDED) -> Snapshot:
    """Every file, folder and link under root/<folder> (the folders themselves included), not following links."""
    out: Snapshot = {}
    for name in folders:
        top = root / name
        if not os.path.lexists(top):
            continue
        out[name] = _entry(top)
        if not top.is_dir() or top.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(top, onerror=lambda _e: None):
            for child in (*dirnames, *filenames):
                path = Path(dirpath) / child
                try:
                    out[path.relative_to(root).as_posix()] = _entry(path)
                except FileNotFoundError:  # deleted while we walked: the later snapshot shows it
                    continue
    return out


def _entry(path: Path) -> Entry:
    """What is compared of one path: its kind, its size (files only) and its modification time."""
    st = os.lstat(path)
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
    return kind, 0 if kind == "dir" else st.st_size, st.st_mtime_ns


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Every difference between two snapshots, as 'created PATH', 'deleted PATH' or 'modified PATH', sorted by path."""
    out = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            out.append(f"created {path}")
        elif path not in after:
            out.append(f"deleted {path}")
        elif before[path] != after[path]:
            out.append(f"modified {path}")
    return out


def failure_message(root: Path, found: list[str], limit: int = 40) -> str:
    """The message that fails the run: which project paths the tests touched, and the fix."""
    shown = found[:limit] + ([f"… and {len(found) - limit} more"] if len(found) > limit else [])
    return (f"the tests changed the project's own working folders under {root} "
            f"({', '.join(f + '/' for f in GUARDED)}: `make demo` output lives there):\n  "
            + "\n  ".join(shown)
            + "\nTests must use tmp_path for every folder they write (data.folder, data.store, runs.folder, "
              "delivery.outbox_folder, airflow.home, airflow.upload_inbox), never the defaults relative to the project.")
