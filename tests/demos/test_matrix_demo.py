"""`valuegrad demo matrix`: the scalar graph's numbers beside the matrix equations, the printout and the pictures."""

from __future__ import annotations

import importlib.util

import pytest

from valuegrad.__main__ import main
from valuegrad.demos import matrix as demo

np = pytest.importorskip("numpy", reason="the matrix demo needs numpy (the `fast` extra)")
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("batch", [1, 4, 8])
def test_matrix_demo_graph_numbers_equal_the_matrix_equations(batch):
    """z nodes found by walking the graph down from the outputs hold the matrix z, B * z.grad is
    delta, and every traced weight's edges sum to its .grad and to the matrix dW entry."""
    result = demo.compute(batch)
    model = demo.network()
    zs = demo.scalar_graph(model, demo.SAMPLES[:batch], demo.TARGETS[:batch])
    for index, layer in enumerate(result["matrix"]):
        np.testing.assert_allclose([[z.data for z in row] for row in zs[index]], layer.z, rtol=1e-15)
        read = result["graph"][index]
        for field in ("delta", "dW", "db"):
            np.testing.assert_allclose(read[field], getattr(layer, field), rtol=1e-12, atol=1e-17)
        for trace in result["traces"][index]:
            edges = trace["edges"]
            assert len(edges) == batch
            assert sum(edge["product"] for edge in edges) == pytest.approx(trace["grad"], rel=1e-14)
            assert trace["grad"] == pytest.approx(layer.dW[trace["j"], trace["k"]], rel=1e-12)
            # each edge's local derivative is the input a_k of that sample
            np.testing.assert_allclose([edge["local"] for edge in edges], layer.a_in[:, trace["k"]], rtol=1e-14)


def test_matrix_demo_output_delta_is_a_minus_y_times_sigma_prime():
    """The printed cost: C_s = 1/2 sum_j (a_j - y_j)^2, so delta^L = (a - y) a (1 - a) for sigmoid outputs."""
    output = demo.compute(4)["matrix"][-1]
    y = np.array(demo.TARGETS[:4])
    np.testing.assert_allclose(output.delta, (output.a - y) * output.a * (1.0 - output.a), rtol=1e-12)


def test_matrix_demo_titles_state_each_layers_recurrence():
    assert demo._titles(1, last=False)["delta"] == r"$\delta^{1} = ((W^{2})^T \delta^{2}) \odot \sigma'(z^{1})$"
    assert demo._titles(2, last=True)["delta"] == r"$\delta^{L} = \nabla_a C \odot \sigma'(z^{L})$"
    assert demo._titles(1, last=False)["z"] == r"$z^{1} = W^{1} x + b^{1}$"


def test_matrix_demo_report_prints_the_check():
    text = demo.report(demo.compute(4))
    assert "Check: largest |matrix equations - scalar graph|" in text
    assert "agree: True" in text and "layer 2: delta" in text


# docs/matrix.md's command (tests/test_docs.py runs it too); its default batch is 4 samples.
DOCS_MATRIX = "python -m valuegrad demo matrix --out /tmp/matrix"


@pytest.mark.slow  # runs the demo through the command line and draws two figures
@needs_matplotlib
def test_cli_demo_matrix_writes_one_picture_per_layer_and_prints_the_check(shell_command):
    run = shell_command(DOCS_MATRIX)  # run once per test run, shared with tests/test_docs.py
    assert run.returncode == 0, run.stderr
    for layer in (1, 2):
        picture = run.directory / "matrix" / f"matrix_layer{layer}.png"
        assert picture.read_bytes()[:8] == PNG_MAGIC
        assert f"wrote {picture}" in run.stdout
    assert "agree: True" in run.stdout
    assert "layer0.neuron0.w0: sum over 4 edges" in run.stdout


@pytest.mark.slow  # the command line
def test_cli_demo_matrix_rejects_a_batch_larger_than_its_samples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "matrix", "--batch-size", "9"])
    assert exit_info.value.code == 2
    assert "--batch-size" in capsys.readouterr().err
