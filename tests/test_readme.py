"""Every ```python block of README.md runs as written (each in a fresh namespace, in a temp directory)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_readme_block_extraction_finds_python_only():
    sample = "```python\nx = 1\n```\n```bash\nmake demo\n```\n```python\ny = 2\nz = 3\n```\n"
    assert python_blocks(sample) == ["x = 1\n", "y = 2\nz = 3\n"]


def test_readme_has_the_two_commands_and_examples():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_readme_python_block_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    if ("draw(" in code or "render(" in code) and shutil.which("dot") is None:
        pytest.skip("this README block renders a picture and graphviz's dot binary is not installed")
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def test_readme_backprop_table_matches_the_demo():
    """The gradient table quoted in the README is what `valuegrad demo backprop` prints today."""
    from valuegrad.demos import backprop

    printed = backprop.report(backprop.worked_example()).splitlines()
    rows = [line.strip() for line in printed if line.strip().split(" ")[0] in backprop.WEIGHTS and "  " in line]
    text = README.read_text(encoding="utf-8")
    assert len(rows) == len(backprop.WEIGHTS)
    for row in rows:
        assert row in text, row


def test_readme_local_links_and_images_exist():
    """Every relative link or image in the README (docs/*.md, docs/*.png) points at a file in the repository."""
    text = README.read_text(encoding="utf-8")
    targets = {target for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target}
    assert "docs/moons_boundary.png" in targets and "docs/backprop_graph.png" in targets
    missing = sorted(target for target in targets if not (README.parent / target.split("#")[0]).is_file())
    assert missing == []
