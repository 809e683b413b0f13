"""`valuegrad check TARGET`: module and file targets, the printed report, --json, --strict, exit 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from valuegrad.__main__ import main
from valuegrad.check import TargetError, load_target

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "autograd" / "broken_micrograds.py"


def usage_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("valuegrad check: error: ")
    return captured.err


def test_load_target_from_a_module_and_from_a_file():
    from tests.autograd.broken_micrograds import Micrograd

    assert load_target("tests.autograd.broken_micrograds:Micrograd") is Micrograd
    from_file = load_target(f"{BROKEN}:SubSignFlipped")
    assert from_file.__name__ == "SubSignFlipped" and from_file.__module__.startswith("_valuegrad_check_")


def test_load_target_file_may_import_its_neighbours(tmp_path):
    (tmp_path / "engine.py").write_text("class Value:\n    pass\n")
    (tmp_path / "mine.py").write_text("from engine import Value\n")
    assert load_target(f"{tmp_path / 'mine.py'}:Value").__name__ == "Value"
    assert str(tmp_path) not in sys.path


@pytest.mark.parametrize(("target", "message"), [
    ("micrograd.engine", "TARGET must be package.module:Class or path/to/file.py:Class, got 'micrograd.engine'"),
    ("no_such_module_here:Value", "cannot import no_such_module_here: ModuleNotFoundError"),
    ("micrograd.engine:Nope", "micrograd.engine has no attribute 'Nope'"),
    ("tests.micrograd_programs.lecture:trace", "tests.micrograd_programs.lecture:trace is not a class but function"),
    ("missing/file.py:Value", "no such file: missing/file.py"),
])
def test_usage_errors_are_one_line_exit_2(target, message, capsys):
    assert message in usage_error(["check", target], capsys)
    with pytest.raises(TargetError, match=message.split(":")[0]):
        load_target(target)


def test_a_file_that_fails_to_import_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    assert f"cannot import {bad}: RuntimeError: boom" in usage_error(["check", f"{bad}:Value"], capsys)


def test_json_into_a_missing_directory_is_refused_before_checking(tmp_path, capsys):
    err = usage_error(["check", "micrograd.engine:Value", "--json", str(tmp_path / "no" / "r.json")], capsys)
    assert "not a file in an existing directory" in err


@pytest.mark.slow
def test_check_micrograd_exit_0_and_strict_exit_1(capsys, tmp_path):
    pytest.importorskip("micrograd.engine", reason="micrograd 0.1.0 (the `bench` extra) is not installed")
    out = tmp_path / "report.json"
    assert main(["check", "micrograd.engine:Value", "--examples", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("valuegrad check micrograd.engine:Value: every supported op is correct")
    assert "  tanh                    missing   AttributeError" in printed and f"wrote {out}" in printed
    data = json.loads(out.read_text())
    assert data["ok"] is True and data["examples"] == 20
    assert {row["op"]: row["status"] for row in data["ops"]}["backward: deep chains"] == "limited"
    assert main(["check", "micrograd.engine:Value", "--examples", "5", "--strict"]) == 1


@pytest.mark.slow
def test_check_a_file_with_a_bug_exit_1_and_json_names_it(capsys, tmp_path):
    out = tmp_path / "report.json"
    assert main(["check", f"{BROKEN}:RsubSwapped", "--examples", "10", "--seed", "3", "--json", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "SOMETHING IS WRONG" in printed and "WRONG c - a (alone): out = 2.0 - x" in printed
    data = json.loads(out.read_text())
    assert data["seed"] == 3 and data["target"] == f"{BROKEN}:RsubSwapped"
    (failure,) = data["failures"]
    assert failure["op"] == "c - a" and failure["expected"]["value"] == 2.0 - failure["inputs"]["x"]
    assert "`__rsub__` computes a - c" in failure["hint"]


@pytest.mark.slow
def test_check_as_a_subprocess(tmp_path):
    result = subprocess.run([sys.executable, "-m", "valuegrad", "check", f"{BROKEN}:NegSignFlipped", "--examples",
                             "5"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stderr
    assert "sign flipped in the derivative of unary `-`" in result.stdout
