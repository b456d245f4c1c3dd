"""The catalog and stack settings as they were at a git ref, read without touching the work tree."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from components.catalog.problems import WHOLE_FILE, InputError, Problem


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=120)
    except FileNotFoundError:
        raise InputError([Problem("--base", WHOLE_FILE, "git is not installed; install it to compare with a ref")]) from None


def repository_root(anchor: Path) -> Path:
    """The top of the git work tree holding ``anchor``."""
    resolved = anchor.resolve()
    top = _git(resolved if resolved.is_dir() else resolved.parent, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise InputError([Problem(str(anchor), WHOLE_FILE, "not inside a git repository; --base needs one")])
    return Path(top.stdout.decode().strip())


def file_at_ref(anchor: Path, ref: str, relative: str) -> str | None:
    """The text of ``relative`` (a path from the top of the repository holding ``anchor``) at
    ``ref``; ``None`` when it is not a file there."""
    shown = _git(repository_root(anchor), "cat-file", "blob", f"{ref}:{relative}")
    if shown.returncode != 0:
        return None
    try:
        return shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError([Problem(f"{ref}:{relative}", WHOLE_FILE, "is not UTF-8 text")]) from None


def checkout_paths_at(ref: str, paths: list[Path], destination: Path) -> list[Path]:
    """Write ``paths`` (directories of one git work tree) as they were at ``ref`` under
    ``destination``; return where each one landed (missing at the ref: an empty directory)."""
    root = repository_root(paths[0])
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise InputError([Problem(
            "--base", WHOLE_FILE,
            f"{ref!r} is not a commit of this repository; fetch it first (git fetch origin) or name a "
            "branch, tag or commit",
        )])
    landed = []
    present = []
    for path in paths:
        try:
            relative = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise InputError([Problem(
                path.as_posix(), WHOLE_FILE,
                f"is outside the git repository {root.as_posix()}; --base compares the folders of one "
                "repository, so pass --models and --stacks inside it",
            )]) from None
        target = destination / relative
        target.mkdir(parents=True, exist_ok=True)
        landed.append(target)
        listed = _git(root, "ls-tree", "-d", "--name-only", ref, "--", relative)
        if listed.stdout.strip():
            present.append(relative)
    if present:
        archive = _git(root, "archive", "--format=tar", ref, "--", *present)
        if archive.returncode != 0:
            raise InputError([Problem("--base", WHOLE_FILE, f"git archive failed: {archive.stderr.decode().strip()}")])
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as bundle:
            links = [member.name for member in bundle.getmembers() if member.issym() or member.islnk()]
            if links:
                # The work tree's catalog is read from real files only; the base is held to the same
                # rule, and a link is never written, so it cannot point the reader anywhere.
                raise InputError([
                    Problem(f"{ref}:{name}", WHOLE_FILE, "is a symbolic link at the base; the catalog is "
                            "read from real files only, so replace it with what it points to on that branch")
                    for name in links
                ])
            try:
                bundle.extractall(destination, filter="data")
            except tarfile.FilterError as error:
                raise InputError([Problem(f"{ref}:{error.tarinfo.name}", WHOLE_FILE, f"cannot be read: {error}")]) from None
    return landed
