"""Load grammars/kernlog.lark and hand out its terminals as compiled line matchers."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from lark import Lark

_GRAMMAR = Path(__file__).resolve().parents[2] / "grammars" / "kernlog.lark"


@cache
def parser() -> Lark:
    """The Earley parser for one whole log line (prefix + message)."""
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="earley", lexer="dynamic",
                ambiguity="resolve")


@cache
def terminal(name: str) -> re.Pattern[str]:
    """The regexp of terminal ``name`` of the grammar, compiled on its own."""
    for term in parser().terminals:
        if term.name == name:
            return re.compile(term.pattern.to_regexp())
    raise KeyError(f"kernlog.lark has no terminal {name}")


def match(name: str, text: str) -> re.Match[str] | None:
    """Match terminal ``name`` at the start of ``text``."""
    return terminal(name).match(text)


def fullmatch(name: str, text: str) -> re.Match[str] | None:
    """Match terminal ``name`` against the whole of ``text``."""
    return terminal(name).fullmatch(text)


def search(name: str, text: str) -> re.Match[str] | None:
    """Find terminal ``name`` anywhere in ``text``."""
    return terminal(name).search(text)


_PREFIX_PARTS = ("SYSLOG", "JOURNAL", "ROBOT", "LOGIN", "LEVEL", "STAMP", "CALLER")


@cache
def prefix_regexp() -> re.Pattern[str]:
    """The line-prefix matcher: the grammar's prefix terminals chained, each optional."""
    body = "".join(f"(?:{terminal(name).pattern})?" for name in _PREFIX_PARTS)
    return re.compile(body + " ?")
