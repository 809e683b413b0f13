"""`valuegrad demo digits`: held-out accuracy of the batched MLP on scikit-learn's digits, and its pictures."""

from __future__ import annotations

import importlib.util
import re

import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Looked up, not imported: importing scikit-learn at collection costs seconds on every test run.
NEEDED = {"sklearn": "the digits demo needs scikit-learn (the 'demo' extra)",
          "matplotlib": "the digits demo draws with matplotlib (the 'demo' extra)",
          "numpy": "backend='batched' needs numpy (the 'fast' extra)"}
MISSING = [reason for module, reason in NEEDED.items() if importlib.util.find_spec(module) is None]


README_DIGITS = "python -m valuegrad demo digits"  # the README's command (tests/test_docs.py runs it too)


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason="; ".join(MISSING))
def test_demo_digits_reaches_96_percent_held_out_and_writes_its_pictures(shell_command):
    run = shell_command(README_DIGITS)  # run once per test run, shared with tests/test_docs.py
    assert run.returncode == 0, run.stderr
    match = re.search(r"held-out accuracy ([\d.]+)% \(450 digits, 25% held out, seed 0\)", run.stdout)
    assert match, run.stdout
    assert float(match.group(1)) >= 96.0
    for name in ("digits_mistakes.png", "digits_confusion.png"):
        assert (run.directory / "demos" / "out" / name).read_bytes()[:8] == PNG_MAGIC
