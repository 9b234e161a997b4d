"""Errors raised for bad input. The command line turns them into a one-line message and exit 2."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Input data that cannot be used, with the file, the place and what was expected.

    ``str(error)`` is a single line: ``<file>: <where>: <problem>; expected <expected>``.
    """

    def __init__(self, path: str | Path | None, problem: str, *, where: str | None = None,
                 expected: str | None = None):
        self.path = str(path) if path is not None else None
        self.problem = problem
        self.where = where
        self.expected = expected
        parts = [p for p in (self.path, where, problem) if p]
        message = ": ".join(parts)
        if expected:
            message += f"; expected {expected}"
        super().__init__(" ".join(message.split()))


class ModelError(Exception):
    """A saved model that cannot be used (missing files, incompatible version)."""
