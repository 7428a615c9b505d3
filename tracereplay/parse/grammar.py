"""Load grammars/ftrace.lark and build, from its own terminals, the vectorised line pattern.

The grammar is the single source of truth for the format. The regular event line is parsed in
bulk by polars with a pattern composed here from the grammar's terminal definitions (COMM, PID,
TGID, CPU, FLAGS, TIMESTAMP, EVENT_NAME, ...); every line that pattern does not take goes
through the LALR parser built from the same grammar.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark
from lark.load_grammar import load_grammar


def grammar_text(name: str) -> str:
    """The text of grammars/<name>.lark, from the installed package or the source tree."""
    try:
        return (resources.files("tracereplay.grammars") / f"{name}.lark").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        src = Path(__file__).resolve().parents[2] / "grammars" / f"{name}.lark"
        return src.read_text("utf-8")


@cache
def ftrace_parser() -> Lark:
    return Lark(grammar_text("ftrace"), parser="lalr", lexer="contextual")


@cache
def _terminals(name: str) -> dict[str, str]:
    # Lark drops terminals that no rule uses from its lexer; compile them all here so pieces
    # such as COMM or PID (used only inside EVENT_PREFIX) keep their definitions.
    grammar, _ = load_grammar(grammar_text(name), f"<{name}.lark>", [], False)
    names = {n for n, _ in grammar.term_defs}
    terms, _, _ = grammar.compile(["start"], names)
    return {t.name: t.pattern.to_regexp() for t in terms}


def terminal(name: str, grammar: str = "ftrace") -> str:
    """The regular expression lark compiled for one terminal of a grammar."""
    return _terminals(grammar)[name]


@cache
def event_prefix_pattern() -> str:
    """EVENT_PREFIX of the grammar with named groups; group ``pre`` is the whole prefix.

    Mirrors ``EVENT_PREFIX: LEAD COMM "-" PID /\\s+/ ("(" /\\s*/ TGID ")" /\\s+/)? "[" CPU "]"
    /\\s+/ (FLAGS /\\s+/)? TIMESTAMP ":"``; a test checks that the two accept the same
    prefixes. The body is what follows ``pre`` (after the grammar's ``_SP?``): slicing it off is
    much cheaper than capturing it.
    """
    t = terminal
    return (
        rf"^(?P<pre>{t('LEAD')}(?P<comm>{t('COMM')})-(?P<pid>{t('PID')})\s+"
        rf"(?:\(\s*(?P<tgid>{t('TGID')})\)\s+)?"
        rf"\[(?P<cpu>{t('CPU')})\]\s+(?:(?P<flags>{t('FLAGS')})\s+)?"
        rf"(?P<ts>{t('TIMESTAMP')}):)"
    )


@cache
def prefix_tail_pattern(anchored: bool = False) -> str:
    """What follows the task name in EVENT_PREFIX, ``-PID [(TGID)] [CPU] [FLAGS] TIMESTAMP:``,
    then the blanks and, when there is one, the EVENT_HEAD of a named body and its blanks.

    Unanchored, the leftmost place it matches is where the grammar's lazy COMM ends: a DFA finds
    it, instead of a backtracking capture over the task name. Its pieces are unambiguous (a
    one-pass pattern) so the groups are cheap to take, and ASCII classes keep the matcher on
    its fast path; a line they miss is left to lark, which decides it by the grammar itself.
    Group ``pre`` is the whole match: the body is what follows it. ``anchored`` matches only at
    the start of the text (a search runs first; the groups are then taken where it matched).
    """
    t = terminal
    return (
        rf"(?-u){'^' if anchored else ''}(?P<pre>-(?P<pid>{t('PID')})\s+(?:\(\s*(?P<tgid>{t('TGID')})\)\s+)?"
        rf"\[(?P<cpu>{t('CPU')})\]\s+(?:(?P<flags>{t('FLAGS')})\s+)?(?P<ts>{t('TIMESTAMP')}):"
        rf"[ \t]*(?:(?P<event>{t('EVENT_NAME')}):[ \t]*)?)"
    )


@cache
def body_patterns() -> list[tuple[str, str]]:
    """(shape, pattern) for the body shapes, in the lexer's priority order.

    Each pattern yields groups ``event`` (absent for function calls and stack marks) and
    ``body``.
    """
    t = terminal
    name = t("EVENT_NAME")
    return [
        ("named", rf"^(?P<event>{name}):(?:{t('_SP')})?(?P<body>(?:{t('REST')})?)$"),  # see NAMED_HEAD
        ("function", rf"^(?P<body>{t('FUNCTION_CALL')})$"),
        ("syscall_exit", rf"^(?P<event>{name}) -> (?P<body>.+)$"),
        ("syscall_enter", rf"^(?P<event>{name})(?P<body>\(.*\))$"),
        ("stack", rf"^(?P<body>{t('STACK_MARK')})$"),
    ]


@cache
def named_head_pattern() -> str:
    """The ``EVENT_HEAD`` of a named body: the event name and its colon (group ``head``); the
    body is the rest after the grammar's ``_SP?``."""
    return rf"^(?P<head>(?P<event>{terminal('EVENT_NAME')}):)"
