"""`valuegrad demo digits`: held-out accuracy of the batched MLP on scikit-learn's digits, and its pictures."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("sklearn", reason="the digits demo needs scikit-learn (the 'demo' extra)")
pytest.importorskip("matplotlib", reason="the digits demo draws with matplotlib (the 'demo' extra)")
pytest.importorskip("numpy", reason="backend='batched' needs numpy (the 'fast' extra)")

from valuegrad.__main__ import main  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_digits_reaches_96_percent_held_out_and_writes_its_pictures(tmp_path, capsys):
    assert main(["demo", "digits", "--out", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    match = re.search(r"held-out accuracy ([\d.]+)% \(450 digits, 25% held out, seed 0\)", printed)
    assert match, printed
    assert float(match.group(1)) >= 96.0
    for name in ("digits_mistakes.png", "digits_confusion.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
