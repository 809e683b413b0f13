"""docs/tutorial.ipynb runs headless in a real Jupyter kernel: no errors, and its pictures are there."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"
IMAGES = ("image/png", "image/svg+xml")

pytestmark = pytest.mark.slow  # starts a kernel and trains a network


def _execute(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat (with nbclient, the dev extra) is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient (the dev extra) is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel (the dev extra) is not installed")
    pytest.importorskip("matplotlib", reason="the notebook draws with matplotlib (the demo extra)")
    from jupyter_client.kernelspec import KernelSpecManager

    # The kernel must be this interpreter with this tree importable. ipykernel's built-in spec
    # "python3" runs sys.executable, but a user-level "python3" may shadow it: write our own.
    kernels = tmp_path / "jupyter" / "kernels" / "valuegrad-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        '{"argv": [%s, "-m", "ipykernel_launcher", "-f", "{connection_file}"], '
        '"display_name": "valuegrad test", "language": "python"}' % _json_string(sys.executable)
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    assert "valuegrad-test" in KernelSpecManager().find_kernel_specs()

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name="valuegrad-test", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return notebook


def _json_string(text: str) -> str:
    import json

    return json.dumps(text)


WIDGET = "application/vnd.jupyter.widget-view+json"


def _outputs(notebook, output_type: str | None = None) -> list:
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output_type is None or output.output_type == output_type
    ]


def test_notebook_is_stored_without_outputs():
    """Outputs are made by running it; a stored one would go stale (and bloat diffs)."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat (the dev extra) is not installed")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert _outputs(notebook) == []
    assert all(cell.get("execution_count") is None for cell in notebook.cells if cell.cell_type == "code")


def test_tutorial_notebook_runs_and_shows_its_pictures(tmp_path, monkeypatch):
    notebook = _execute(NOTEBOOK, tmp_path, monkeypatch)
    assert _outputs(notebook, "error") == []
    images = [kind for output in _outputs(notebook) for kind in IMAGES if kind in output.get("data", {})]
    assert "image/png" in images  # the decision boundary (matplotlib inline)
    if shutil.which("dot") is not None:
        assert "image/svg+xml" in images  # the neuron's graph, rendered by graphviz
    text = "".join(output.get("text", "") for output in _outputs(notebook, "stream"))
    assert "training accuracy" in text and "b: by hand" in text
    assert "delta = B x z.grad" in text  # the matrix section's check (it asserts the numbers itself)
    # The tqdm.auto bar: a widget where ipywidgets is installed (the `demo` extra has it), else its text form.
    widgets = [o for o in _outputs(notebook, "display_data") if WIDGET in o.get("data", {})]
    if importlib.util.find_spec("ipywidgets") is not None:
        assert widgets, "tqdm.auto drew no progress widget although ipywidgets is installed"
    else:
        assert "training: 100%" in text and "20/20" in text


def test_a_broken_notebook_cell_fails(tmp_path, monkeypatch):
    """What the test above does when a cell breaks: the error surfaces, naming it."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat (the dev extra) is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient (the dev extra) is not installed")
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from autograd import Valeu")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="cannot import name 'Valeu'"):
        _execute(path, tmp_path, monkeypatch)
