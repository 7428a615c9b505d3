"""Errors the CLI turns into one clear line and exit status 2."""

from __future__ import annotations


class InputError(Exception):
    """Unreadable or unusable input: names the file and, when known, the line."""

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


class UsageError(Exception):
    """A bad option combination or an unknown name (rule, scenario, object)."""
