"""`pip install .` ships every subpackage and every data file the code reads."""

from __future__ import annotations

import tomllib

from conftest import REPO


def test_every_package_is_listed():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    on_disk = {".".join(p.relative_to(REPO).parent.parts) for p in (REPO / "tracereplay").rglob("*")
               if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts}
    assert on_disk <= listed
    assert cfg["package-dir"]["tracereplay.grammars"] == "grammars"
    assert "tracereplay.grammars" in listed and (REPO / "grammars" / "ftrace.lark").is_file()


def test_grammars_load_from_the_package():
    from tracereplay.parse.grammar import grammar_text

    assert "EVENT_PREFIX" in grammar_text("ftrace") and grammar_text("kernlog")
