"""`render --out DIR`: one file per object, swapped in whole so a reader (or a crash) never sees half.

The swap, under an exclusive lock on DIR's parent folder (so two renders into it take turns):

1. leftovers of an earlier run are cleared: a kill between the two renames of step 3 left DIR
   missing and the previous tree complete at ``.DIR.modelplane-old``, which is put back first;
   staging folders of killed runs are removed;
2. the new tree is written to ``.DIR.modelplane-staging``, marker file last;
3. on Linux the two trees are exchanged in one ``renameat2(RENAME_EXCHANGE)`` call, so DIR always
   holds a complete tree; elsewhere DIR is renamed to the old name and the staging folder to DIR,
   and step 1 of the next run repairs a kill between the two;
4. the old tree is removed.

A directory modelplane did not write (no marker file) is never replaced.

The chart objects of each release (``--charts``) are under ``_releases/<release>/``, laid out as
modelplane's own: no namespace is named ``_releases`` (a namespace is a DNS label, without "_"),
so they can meet neither modelplane's objects nor another release's. Two objects for one file are
a problem, never an overwrite.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import re
import shutil
from pathlib import Path

from components.catalog import InputError, Problem
from components.catalog.problems import WHOLE_FILE, raise_if_any
from components.cli.inputs import shown
from components.render.manifests import dump_objects, object_file_name
from components.render.objects import KubeObject, object_id
from components.render.stack_render import ReleaseObjects

# Marks a directory written by `render --out DIR`, so a later render may replace it wholesale.
RENDER_MARKER = ".modelplane-render"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def staging_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.modelplane-staging"


def retired_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.modelplane-old"


def _legacy_leftovers(out_dir: Path) -> list[Path]:
    """Staging (``.DIR.xxxxxxxx``) and retired (``.DIR.old.xxxxxxxx``) folders of earlier versions,
    named by ``tempfile.mkdtemp``; only those holding nothing or a render are theirs."""
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(old\.)?[a-z0-9_]{{8}}$")
    found = []
    for entry in out_dir.parent.iterdir():
        if pattern.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            contents = list(entry.iterdir())
            if not contents or (entry / RENDER_MARKER).exists() or (entry / "tree" / RENDER_MARKER).exists():
                found.append(entry)
    return found


def _is_render(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / RENDER_MARKER).is_file()


def clear_leftovers(out_dir: Path) -> None:
    """Put back a tree a killed swap left at the old name; remove staging and retired folders."""
    retired = retired_path(out_dir)
    if not os.path.lexists(out_dir) and _is_render(retired):
        retired.rename(out_dir)
    for leftover in (staging_path(out_dir), retired, *_legacy_leftovers(out_dir)):
        if leftover.is_symlink() or leftover.is_file():
            leftover.unlink()
        elif leftover.is_dir():
            shutil.rmtree(leftover)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False when the system cannot."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel or a file system without exchange: use the two renames
    raise OSError(code, os.strerror(code), str(first))


def swap_in(staging: Path, out_dir: Path) -> None:
    """Make ``staging`` the tree at ``out_dir``; the previous tree ends at the retired path."""
    retired = retired_path(out_dir)
    if not out_dir.exists():
        staging.rename(out_dir)
    elif _exchange(staging, out_dir):
        staging.rename(retired)
    else:
        out_dir.rename(retired)
        staging.rename(out_dir)


RELEASES_FOLDER = "_releases"


def object_files(objects: list[KubeObject], chart_objects: tuple[ReleaseObjects, ...], out_dir: Path) -> dict[str, KubeObject]:
    """Each object by its file's path under ``out_dir``; two objects for one file are a problem."""
    files: dict[str, KubeObject] = {}
    problems = []
    placed = [(object_file_name(obj), obj) for obj in objects] + [
        (f"{RELEASES_FOLDER}/{release.release}/{object_file_name(obj)}", obj)
        for release in chart_objects for obj in release.objects
    ]
    for path, obj in placed:
        if path in files:
            problems.append(Problem(shown(out_dir / path), WHOLE_FILE, (
                f"two objects would be written to this file ({object_id(files[path])} and {object_id(obj)}); "
                "nothing was written: rename one")))
        files[path] = obj
    raise_if_any(problems)
    return files


def write_object_tree(objects: list[KubeObject], out_dir: Path, chart_objects: tuple[ReleaseObjects, ...] = ()) -> int:
    """Write one file per object into ``out_dir``, all or nothing (see the module docstring);
    return how many files were written."""
    files = object_files(objects, chart_objects, out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(out_dir.parent, os.O_RDONLY)
    except OSError as error:
        raise InputError([Problem(shown(out_dir), WHOLE_FILE, f"cannot write: {error.strerror}")]) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_locked(files, out_dir)
    except OSError as error:
        raise InputError([Problem(shown(out_dir), WHOLE_FILE, f"cannot write: {error.strerror}")]) from None
    finally:
        os.close(lock)  # closing releases the lock
    return len(files)


def _write_locked(files: dict[str, KubeObject], out_dir: Path) -> None:
    clear_leftovers(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise InputError([Problem(shown(out_dir), WHOLE_FILE, "exists and is not a directory")])
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / RENDER_MARKER).exists():
        raise InputError([Problem(
            shown(out_dir), WHOLE_FILE,
            "exists and was not written by modelplane render; name a new or empty directory",
        )])
    if out_dir.exists() and not os.access(out_dir, os.W_OK | os.X_OK):
        raise InputError([Problem(shown(out_dir), WHOLE_FILE, "cannot write: Permission denied")])
    staging = staging_path(out_dir)
    try:
        staging.mkdir()
        for path, obj in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            # "x": a file already there is never written over, whatever the check above missed.
            with target.open("x", encoding="utf-8") as file:
                file.write(dump_objects([obj]))
        # The marker last: a staging folder without it was never complete.
        (staging / RENDER_MARKER).write_text("written by modelplane render\n", encoding="utf-8")
        swap_in(staging, out_dir)
    finally:
        if not os.path.lexists(out_dir) and _is_render(retired_path(out_dir)):
            retired_path(out_dir).rename(out_dir)  # failed between the two renames: put it back
        if staging.exists():
            shutil.rmtree(staging)
    retired = retired_path(out_dir)
    if retired.exists():
        shutil.rmtree(retired)
