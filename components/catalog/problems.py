"""Problems found in user input, collected with their file and field path and reported together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

# The field slot used when a problem concerns the whole file rather than one field.
WHOLE_FILE = "(file)"


def shown_text(text: str, limit: int = 32) -> str:
    """``text`` quoted for a message, cut when long (a 4,000-digit number is not echoed in full)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file, phrased so the reader knows what to do about it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        # One line per problem, whatever a message quoted from elsewhere contains.
        return " ".join(f"{self.file}: {self.field}: {self.message}".split("\n"))


class InputError(Exception):
    """Raised once with every problem found; the CLI prints one line each and exits 1."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise :class:`InputError` when ``problems`` is not empty."""
    collected = list(problems)
    if collected:
        raise InputError(collected)
