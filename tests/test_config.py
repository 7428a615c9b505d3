"""Settings from tracereplay.toml / [tool.tracereplay] in pyproject.toml, command line winning."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from gate_traces import lock_trace

from tracereplay import config
from tracereplay.cli import main
from tracereplay.errors import UsageError

# A trace with a LOCK-CYCLE (error) and a LOCK-SAME-CLASS (warning) finding.
SAME_CLASS_EXTRA = """\
          worker-100     [000] .....   300.000001: lock_acquire: 0000000011110001 &q->lock
          worker-100     [000] .....   300.000002: lock_acquire: 0000000011110002 &q->lock
          worker-100     [000] .....   300.000003: lock_release: 0000000011110002 &q->lock
          worker-100     [000] .....   300.000004: lock_release: 0000000011110001 &q->lock
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "abba.txt").write_text(lock_trace("drv", abba=True))
    (tmp_path / "warn.txt").write_text(lock_trace("w", abba=False) + SAME_CLASS_EXTRA)
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    return tmp_path


def invoke(*args):
    res = CliRunner().invoke(main, ["check", "-j1", "-q", "--format", "json", *args])
    return res.exit_code, [line for line in res.stdout.splitlines() if line], res.stderr


def test_no_settings_file(project):
    assert config.find() is None or not str(config.find()).startswith(str(project))
    code, out, _ = invoke(str(project / "warn.txt"))
    assert code == 0 and len(out) == 1  # a warning does not fail at the default --fail-on error


def test_tracereplay_toml_searched_upward(project):
    (project / "tracereplay.toml").write_text('fail-on = "warning"\n')
    assert config.find() == project / "tracereplay.toml"
    code, _, _ = invoke(str(project / "warn.txt"))
    assert code == 1
    code, _, _ = invoke("--fail-on", "error", str(project / "warn.txt"))  # command line wins
    assert code == 0


def test_pyproject_table(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.tracereplay]\nignore = ["LOCK-CYCLE"]\n'
                                            'baseline = "ci/known.json"\njobs = 2\nmapping = ["m.toml"]\n')
    cfg = config.load()
    assert cfg.ignore == ["LOCK-CYCLE"] and cfg.jobs == 2 and cfg.source == str(project / "pyproject.toml")
    assert cfg.baseline == str(project / "ci" / "known.json") and cfg.mapping == [str(project / "m.toml")]
    (project / "pyproject.toml").write_text('[tool.tracereplay]\nignore = ["LOCK-CYCLE"]\n')
    code, out, _ = invoke(str(project / "abba.txt"))
    assert code == 0 and out == []
    code, out, _ = invoke("--ignore", "LOCK-SAME-CLASS", str(project / "abba.txt"))
    assert code == 1 and len(out) == 1


def test_pyproject_without_table_is_passed_over(project):
    (project / "pyproject.toml").write_text('[tool.tracereplay]\nselect = ["LOCK-SAME-CLASS"]\n')
    (project / "sub" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert config.find() == project / "pyproject.toml"
    code, out, _ = invoke(str(project / "abba.txt"), str(project / "warn.txt"))
    assert code == 0 and len(out) == 1 and '"LOCK-SAME-CLASS"' in out[0]


def test_tracereplay_toml_wins_over_pyproject_in_the_same_directory(project):
    (project / "pyproject.toml").write_text('[tool.tracereplay]\nfail-on = "info"\n')
    (project / "tracereplay.toml").write_text('[tool.tracereplay]\nfail_on = "warning"\n')
    assert config.load().fail_on == "warning"


def test_explicit_config_file(project):
    (project / "ci.toml").write_text('select = "LOCK-CYCLE"\n')
    assert config.load(project / "ci.toml").select == ["LOCK-CYCLE"]
    code, out, _ = invoke("--config", str(project / "ci.toml"), str(project / "warn.txt"))
    assert code == 0 and out == []


@pytest.mark.parametrize("text,message", [
    ('fail-on = "fatal"\n', "fail-on must be one of"),
    ('colour = true\n', "unknown setting 'colour'"),
    ('select = 3\n', "select must be a string or a list of strings"),
    ('jobs = 0\n', "jobs must be a positive integer"),
    ('fail-on = \n', "not valid TOML"),
])
def test_bad_settings_are_usage_errors(project, text, message):
    (project / "tracereplay.toml").write_text(text)
    with pytest.raises(UsageError, match=message):
        config.load()
    code, _, err = invoke(str(project / "abba.txt"))
    assert code == 2 and message.split("'")[0] in err
