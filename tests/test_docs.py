"""The documentation runs: every Python block and shell command of README.md and docs/*.md, and every quoted figure.

The rule (also stated in the README's "Tests" section): each page is ONE script. Its ```python
blocks run in order in one shared namespace (a later block may use what an earlier one defined),
in a fresh temporary directory, so files they write land there. Indented blocks (inside a list)
count too. Tracebacks name the page and its line numbers.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograd import render

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}


@dataclass
class Block:
    page: Path
    language: str
    code: str  # dedented
    line: int  # 1-based line of the block's first code line in the page


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(page, match["lang"].lower(), textwrap.dedent(match["body"]), line))
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# -- Python blocks ---------------------------------------------------------------------------


def run_page(page: Path) -> None:
    """Run every python block of ``page`` in order in one namespace; line numbers are the page's own."""
    namespace: dict = {"__name__": f"__doc_{page.stem}__"}
    for block in blocks(page):
        if block.language == "python":
            code = "\n" * (block.line - 1) + block.code  # so a traceback points at the page's line
            exec(compile(code, str(page), "exec"), namespace)


def test_fence_parser_finds_every_block_with_its_page_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n\n* item\n\n  ```python\n  y = x + 1\n  ```\n```bash\nls\n```\n")
    found = blocks(page)
    assert [(b.language, b.code, b.line) for b in found] == [
        ("python", "x = 1\n", 3),
        ("python", "y = x + 1\n", 9),
        ("bash", "ls\n", 12),
    ]


def test_every_page_has_only_labelled_code_blocks():
    """An unlabelled fence would escape both the Python and the shell runner: say what it is."""
    unlabelled = [f"{page_id(b.page)}:{b.line}" for page in PAGES for b in blocks(page) if not b.language]
    assert unlabelled == []


def _page_param(page: Path):
    """A page that trains a network (calls fit) takes seconds: it belongs to the slow lane."""
    trains = any("fit(" in b.code for b in blocks(page) if b.language == "python")
    return pytest.param(page, marks=[pytest.mark.slow] if trains else [], id=page_id(page))


@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES if any(b.language == "python" for b in blocks(p))])
def test_page_python_blocks_run_in_order(page, tmp_path, monkeypatch, capsys):
    code = "".join(b.code for b in blocks(page) if b.language == "python")
    if re.search(r"\b(draw|animate_backward|render)\(", code) and shutil.which("dot") is None:
        pytest.skip(f"{page_id(page)} draws a graph and graphviz's dot binary is not installed")
    if re.search(r"^import torch\b", code, re.M) and importlib.util.find_spec("torch") is None:
        pytest.skip(f"{page_id(page)} moves a model to PyTorch and torch (the `torch` extra) is not installed")
    monkeypatch.chdir(tmp_path)
    run_page(page)


def test_a_broken_block_fails_with_the_page_and_line(tmp_path):
    """What a doc page with a mistake produces: the error, pointing at the page's line."""
    page = tmp_path / "broken.md"
    page.write_text("# A page\n\n```python\nfrom autograd import Value\n```\n\ntext\n\n"
                    "```python\ny = Valeu(1.0)\n```\n")
    with pytest.raises(NameError) as error:
        run_page(page)
    frame = error.traceback[-1]
    assert Path(str(frame.path)) == page and frame.lineno + 1 == 10


def test_blocks_of_one_page_share_state(tmp_path):
    page = tmp_path / "shared.md"
    page.write_text("```python\nfrom autograd import Value\nx = Value(2.0)\n```\n"
                    "```python\nassert (x * x).data == 4.0\n```\n")
    run_page(page)


# -- shell commands --------------------------------------------------------------------------

# Commands the docs show that the tests do not run, each with the reason. Every other command
# found in a ```bash / ```console block is run by test_doc_shell_command_runs.
NOT_RUN = {
    "make demo": "creates .venv and installs the extras (minutes); `python -m valuegrad demo` is run instead",
    "make test": "the whole suite, which includes this test; CI runs it",
    "make bench": "sets up .venv and runs the full benchmark (minutes)",
    "VALUEGRAD_HYPOTHESIS_PROFILE=intense python -m pytest": "the whole suite, heavy profile (many minutes)",
    "python3 -m pytest tests/autograd -q": "the engine's tests, which this suite already runs",
    "python3 -m pytest tests/autograd/test_properties.py -q": "part of this suite",
    "VALUEGRAD_HYPOTHESIS_PROFILE=intense python3 -m pytest tests/autograd -q": "the engine's tests, heavy profile",
    'python3 -m pytest -m "not slow" -q': "the suite itself (`make quick`)",
    "python -m valuegrad bench": "the full benchmark takes minutes",
    "python -m valuegrad bench --quick": (
        "~80 s on 2 cores; tests/valuegrad/test_bench.py runs sections a to g in one run at the same quick size,"
        " and h at smaller sizes"
    ),
    "python -m valuegrad bench --repeats 15 --json bench.json": "the full benchmark, 15 repetitions",
    "python benchmarks/bench.py ...": "a placeholder for the options above, not a command",
    "valuegrad demo modes": "times n up to 512 with forward mode's n^2 cost (~1 minute); the 2-second version is run",
    "python -m valuegrad demo modes": "as `valuegrad demo modes`",
    "python -m valuegrad bench --sections a": (
        "a full-size (a) with micrograd, 7 repetitions (~1 minute on 2 busy cores); `bench --quick` runs the same code"
    ),
    "python -m valuegrad.pictures docs": (
        "redraws every picture in docs/ and reruns every demo, `valuegrad demo` twice included, to record"
        " docs/figures.json (minutes); the README's commands run each demo"
    ),
}


def shell_commands(page: Path) -> list[tuple[str, list[str], int]]:
    """(command, expected output lines, page line) for each command of the page's shell blocks.

    In ```console blocks commands start with "$ " and the lines after one are its expected output.
    """
    commands: list[tuple[str, list[str], int]] = []
    for block in blocks(page):
        if block.language not in SHELL_LANGUAGES:
            continue
        for offset, line in enumerate(block.code.splitlines()):
            if block.language == "console":
                if line.startswith("$ "):
                    commands.append((_strip_comment(line[2:]), [], block.line + offset))
                elif line.strip() and commands:
                    commands[-1][1].append(line.strip())
            elif line.strip() and not line.lstrip().startswith("#"):
                commands.append((_strip_comment(line), [], block.line + offset))
    return commands


def _strip_comment(line: str) -> str:
    """The command without its trailing `# comment` (a `#` inside quotes is kept)."""
    in_quote = None
    for i, char in enumerate(line):
        if char in "'\"" and in_quote in (None, char):
            in_quote = None if in_quote else char
        elif char == "#" and in_quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


SHELL_CASES = [(page, command, output, line) for page in PAGES for command, output, line in shell_commands(page)]


def test_every_doc_command_is_run_or_has_a_reason_not_to_be():
    found = {command for _, command, _, _ in SHELL_CASES}
    assert "make demo" in found and "make test" in found
    assert set(NOT_RUN) <= found, f"NOT_RUN lists commands no page shows any more: {set(NOT_RUN) - found}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "command", "output", "line"),
    [case for case in SHELL_CASES if case[1] not in NOT_RUN],
    ids=lambda value: page_id(value) if isinstance(value, Path) else (value[:60] if isinstance(value, str) else ""),
)
def test_doc_shell_command_runs(page, command, output, line, shell_command):
    """The command as written, in a sandbox checkout (conftest's shell_command: run once, shared
    with the demo tests that check the same command; /tmp/pics etc. stay inside the sandbox)."""
    if ("graph" in command or "demo backprop" in command) and shutil.which("dot") is None:
        pytest.skip("this command draws a graph and graphviz's dot binary is not installed")
    result = shell_command(command)
    where = f"{page_id(page)}:{line}: {command}"
    assert result.returncode == 0, f"{where}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, where
    printed = [printed_line.strip() for printed_line in result.stdout.splitlines()]
    for expected in output:
        assert expected in printed, f"{where}: expected the output line {expected!r}"


def test_nn_doc_shows_fit_signature_as_it_is():
    """docs/nn.md's `fit(...)` line has the real parameters, kinds and defaults (issue 15: `compiled` was missing)."""
    import ast
    import inspect

    import nn

    text = (ROOT / "docs" / "nn.md").read_text(encoding="utf-8")
    shown = next(b.code for b in blocks(ROOT / "docs" / "nn.md") if b.code.startswith("fit("))
    assert shown in text
    function = ast.parse("def " + shown.strip() + ": ...").body[0]
    assert isinstance(function, ast.FunctionDef)
    arguments = function.args
    documented = [(a.arg, "positional") for a in arguments.args] + [(a.arg, "keyword") for a in arguments.kwonlyargs]
    defaults = {a.arg: ast.literal_eval(d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d}
    parameters = inspect.signature(nn.fit).parameters.values()
    actual = [(p.name, "keyword" if p.kind is p.KEYWORD_ONLY else "positional") for p in parameters]
    assert documented == actual
    assert defaults == {p.name: p.default for p in parameters if p.default is not p.empty}


# -- figures quoted from the benchmark run ---------------------------------------------------

ENGINES = {  # header words -> key in latest.json
    "micrograd": "micrograd",
    "eager": "valuegrad eager",
    "compiled": "valuegrad compiled",
    "batched": "valuegrad batched",
    "plain floats": "plain floats",
    "torch": "torch float64",
}
NUMBER = r"(10⁶|\d[\d,]*(?:\.\d+)?)"


def _results() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def _quoted(text: str) -> float:
    return 1e6 if text == "10⁶" else float(text.replace(",", ""))


def _agrees(quoted: str, actual: float) -> bool:
    """``quoted`` is ``actual`` rounded to the digits shown (639 for 638.72, 2.9 for 2.936, 10⁶ exactly)."""
    value = _quoted(quoted)
    if quoted == "10⁶":
        return actual == value
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    half_unit = 0.5 * 10.0**-decimals
    if decimals == 0 and value >= 100:  # "639 ms", "5,065": three or more significant digits, half a unit
        half_unit = 0.5
    return math.isclose(value, actual, abs_tol=half_unit * (1 + 1e-9))


def benchmark_tables(page: Path) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, rows of cells) of each Markdown table whose rows are the benchmark's (a)..(e)."""
    tables, current = [], []
    for line in page.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(current) > 2 and "micrograd" in " ".join(current[0]) and current[2][0].startswith("(a)"):
            tables.append((current[0], current[2:]))
        current = []
    return tables


def _row_key(label: str) -> tuple[str, str | None]:
    letter = label[1]
    if letter == "b":
        return letter, "build" if "build" in label else "backward"
    return letter, None


def _measured(results: dict, letter: str, part: str | None, engine: str) -> float:
    """The figure of ``engine`` in row (letter) in the table's unit: ms, ns/node, bytes or depth."""
    if letter == "a":
        return results["mlp_step"].get(engine, {}).get("median", math.nan) * 1e3
    if letter == "b":
        return results["ns_per_node"][part].get(engine, {}).get("median", math.nan)
    if letter == "c":
        return results["bytes_per_node"].get(engine, math.nan)
    if letter == "d":
        return results["deepest_chain"].get(engine, {}).get("deepest", math.nan)
    if letter == "e":
        return results["fit_epoch"].get(engine, {}).get("median", math.nan) * 1e3
    if letter == "f":
        return results["batched_step"].get(engine, {}).get("median", math.nan) * 1e3
    if letter == "g":  # seconds
        return results["digits_epoch"].get(engine, {}).get("median", math.nan)
    raise ValueError(f"no benchmark ({letter}) in the results file")


def _ratios(cell: str, letter: str) -> list[tuple[str, str, bool]]:
    """The ratios a cell quotes: (figure, engine it compares with, whether it is this/that).

    "1.52x the floor" is this / floor; "14.4x faster than the floor" is floor / this;
    "0.21x torch's time" is this / torch; any other "Nx faster" is the row's reference
    (micrograd; eager in (g)) / this.
    """
    found = []
    for ratio, phrase in re.findall(NUMBER + r"x( faster than the floor| the floor| torch's time| faster)?", cell):
        if phrase == " the floor":
            found.append((ratio, "plain floats", True))
        elif phrase == " faster than the floor":
            found.append((ratio, "plain floats", False))
        elif phrase == " torch's time":
            found.append((ratio, "torch float64", True))
        else:
            found.append((ratio, "valuegrad eager" if letter == "g" else "micrograd", False))
    return found


def check_table(header: list[str], rows: list[list[str]], results: dict) -> list[str]:
    """Every figure and ratio in a benchmark table, compared with ``results``; the disagreements."""
    columns = {}
    for index, cell in enumerate(header):
        for words, engine in ENGINES.items():
            if words in cell.lower():
                columns[index] = engine
    problems = []
    for row in rows:
        letter, part = _row_key(row[0])
        for index, engine in columns.items():
            cell = row[index].replace("**", "") if index < len(row) else ""
            if not cell:
                continue
            figure = re.match(NUMBER, cell)
            measured = _measured(results, letter, part, engine)
            if figure is None or not _agrees(figure[1], measured):
                problems.append(f"{row[0]} / {header[index]}: quoted {cell!r}, measured {measured!r}")
                continue
            if letter == "d" and engine == "valuegrad eager":
                seconds = re.search(r"\(" + NUMBER + r" s", cell)
                actual = results["deepest_chain"][engine]["seconds"]
                if seconds and not _agrees(seconds[1], actual):
                    problems.append(f"{row[0]} / {header[index]}: {seconds[1]} s quoted, {actual:.3g} s measured")
            for ratio, baseline, slower in _ratios(cell, letter):
                other = _measured(results, letter, part, baseline)
                expected = measured / other if slower else other / measured
                if not _agrees(ratio, expected):
                    problems.append(f"{row[0]} / {header[index]}: {ratio}x quoted, {expected:.4g}x measured")
    return problems


def test_benchmark_check_catches_a_wrong_figure():
    results = {"mlp_step": {"micrograd": {"median": 0.6387}, "valuegrad eager": {"median": 0.01904}}}
    header = ["benchmark", "micrograd 0.1.0", "valuegrad (eager)"]
    assert check_table(header, [["(a) step", "639 ms", "19.0 ms (**33.5x** faster)"]], results) == []
    assert check_table(header, [["(a) step", "639 ms", "19.0 ms (**35.5x** faster)"]], results) == [
        "(a) step / valuegrad (eager): 35.5x quoted, 33.55x measured"
    ]
    assert len(check_table(header, [["(a) step", "697 ms", "19.0 ms"]], results)) == 1


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "docs" / "performance.md"], ids=page_id)
def test_quoted_benchmark_figures_come_from_the_results_file(page):
    """Every figure in the page's benchmark table is the latest.json run's, and the page names that run."""
    results = _results()
    tables = benchmark_tables(page)
    assert tables, f"{page_id(page)} has no benchmark table"
    for header, rows in tables:
        assert check_table(header, rows, results) == []
    text = " ".join(page.read_text(encoding="utf-8").split())
    assert results["commit"][:7] in text, f"{page_id(page)} does not name the run's commit {results['commit'][:7]}"
    assert results["date"][:10] in text, f"{page_id(page)} does not give the run's date {results['date'][:10]}"
    assert results["machine"]["python"] in text
    assert "benchmarks/results/latest.json" in text


def test_performance_goals_quote_the_results_file():
    """The goals list repeats each goal's figure and verdict from the run (issue 15: 35.5x vs 33.5x)."""
    text = " ".join((ROOT / "docs" / "performance.md").read_text(encoding="utf-8").split())
    for goal in _results()["goals"]:
        figure = re.search(r"\(([^)]*)\)$", goal["goal"])
        assert figure, goal
        verdict = "met" if goal["met"] else "NOT MET"
        assert f"{verdict} ({figure[1]}" in text, f"docs/performance.md should say `{verdict} ({figure[1]}`"


# -- figures quoted from the recorded demo runs, the results file and the pictures ---------------
#
# docs/figures.json is written by `python -m valuegrad.pictures docs`, the run that also draws the
# pictures in docs/: every demo's command, printed lines and CPU seconds, and `make demo`'s time.
# Each quoted figure below is named by a pattern (its groups are the figures, in the page's text
# with whitespace collapsed) and where it comes from.  A page that no longer shows the pattern
# fails too: rewording a sentence means updating its entry here, not losing the check.

FIGURES = ROOT / "docs" / "figures.json"


def _figures() -> dict:
    return json.loads(FIGURES.read_text(encoding="utf-8"))


def printed(run: str, pattern: str, group: int = 1):
    """The number a recorded run printed on the first line matching ``pattern``."""
    def value(figures: dict, results: dict) -> float:
        for line in figures["runs"][run]["output"]:
            match = re.search(pattern, line)
            if match:
                return float(match[group])
        raise AssertionError(f"the recorded run {run!r} printed no line matching {pattern!r}")
    return value


def cpu(run: str):
    return lambda figures, results: figures["runs"][run]["cpu_seconds"]


def make_demo(key: str):
    return lambda figures, results: figures["make_demo"][key]


def micrograd_gc(key: str):
    return lambda figures, results: figures["micrograd_gc"][key] * 1e3


def micrograd_gc_share(figures: dict, results: dict) -> float:
    return 100 * (1 - figures["micrograd_gc"]["gc_off"] / figures["micrograd_gc"]["gc_on"])


def fit_backends(workload: str, key: str):
    return lambda figures, results: figures["fit_backends"][workload][key] * 1e3


def compile_max_nodes() -> int:
    from autograd import compile as compile_module

    return compile_module.MAX_NODES


def save_load(key: str):
    return lambda figures, results: figures["save_load"][key]


def rendering(key: str):
    return lambda figures, results: figures["rendering"][key]


def modes_table(figures: dict) -> dict[int, dict[str, float]]:
    """The modes demo's printed table: n -> column name -> number."""
    lines = figures["runs"]["modes"]["output"]
    header = next(line.split() for line in lines if line.split()[:1] == ["n"])
    # "n pass ms reverse ms jvps ms FD ms rev/pass rev err jvp err FD err": the names are word pairs but rev/pass
    columns = [" ".join(header[i:i + 2]) for i in (1, 3, 5, 7)] + ["rev/pass"] + [" ".join(header[i:i + 2])
                                                                                for i in (10, 12, 14)]
    table = {}
    for line in lines:
        cells = line.split()
        if len(cells) == 9 and cells[0].isdigit():
            table[int(cells[0])] = dict(zip(columns, map(float, cells[1:])))
    return table


def modes(n: int, column: str, scale: float = 1.0):
    return lambda figures, results: modes_table(figures)[n][column] * scale


def modes_ratio(n: int, column: str):
    return lambda figures, results: modes_table(figures)[n][column] / modes_table(figures)[n]["reverse ms"]


def modes_extreme(function, *columns: str):
    return lambda figures, results: function(row[c] for row in modes_table(figures).values() for c in columns)


def bench(*path: str, scale: float = 1.0):
    def value(figures: dict, results: dict) -> float:
        found = results
        for key in path:
            found = found[key]
        return found * scale
    return value


def bench_ratio(section: str, numerator: str, denominator: str):
    return lambda figures, results: (results[section][numerator]["median"] / results[section][denominator]["median"])


def largest_spread(figures: dict, results: dict) -> float:
    spreads = [entry["spread_pct"] for section in results.values() if isinstance(section, dict)
               for group in (section, *[v for v in section.values() if isinstance(v, dict)])
               for entry in group.values() if isinstance(entry, dict) and "spread_pct" in entry]
    return max(spreads)


def backprop_largest_difference(figures: dict, results: dict) -> float:
    rows = [line.split() for line in figures["runs"]["backprop"]["output"]]
    return max(float(row[4]) for row in rows if len(row) == 5 and row[0] in ("w1", "w2", "w3", "w4", "w5", "w6",
                                                                              "b1", "b2", "b3"))


def finite_differences_cheaper_up_to(figures: dict, results: dict) -> float:
    table = modes_table(figures)
    return max(n for n, row in table.items() if row["FD ms"] < row["reverse ms"])


DEMO_ROW = r"\| `{}` \|[^|]*\| "
STORAGE_AB = ROOT / "benchmarks" / "results" / "storage_ab.json"


def storage_ab(engine: str, key: str):
    """A median of benchmarks/storage_ab.py's recorded A/B run (docs/performance.md, "Node storage")."""
    return lambda figures, results: json.loads(STORAGE_AB.read_text())["results"][engine][key]["median"]


def storage_ab_change(engine: str, key: str, base: str = "old"):
    """The relative change in percent of ``engine`` against ``base`` in the recorded A/B run."""
    def change(figures: dict, results: dict) -> float:
        recorded = json.loads(STORAGE_AB.read_text())["results"]
        return 100.0 * (recorded[engine][key]["median"] / recorded[base][key]["median"] - 1.0)
    return change


QUOTED_FIGURES = [
    ("docs/performance.md", r"\| before the rework \(6af3377\) \| ([\d.]+) ms \| ([\d.]+) ns/node \| ([\d.]+) ns/node",
     [storage_ab("old", "a"), storage_ab("old", "build"), storage_ab("old", "back")]),
    ("docs/performance.md", r"read-only walks, named slots \| ([\d.]+) ms \| ([\d.]+) ns/node \| ([\d.]+) ns/node \|",
     [storage_ab("new", "a"), storage_ab("new", "build"), storage_ab("new", "back")]),
    ("docs/performance.md", r"two tuple slots per node \| ([\d.]+) ms \| ([\d.]+) ns/node \| ([\d.]+) ns/node \|",
     [storage_ab("plain", "a"), storage_ab("plain", "build"), storage_ab("plain", "back")]),
    ("docs/performance.md", r"The tuples cost (\d+)% on \(a\) and (\d+)% and (\d+)% on \(b\)",
     [storage_ab_change("plain", "a", "new"), storage_ab_change("plain", "build", "new"),
      storage_ab_change("plain", "back", "new")]),
    ("docs/performance.md", r"within noise of the engine before it: ([-+\d.]+)% on \(a\), ([-+\d.]+)% and ([-+\d.]+)%",
     [storage_ab_change("new", "a"), storage_ab_change("new", "build"), storage_ab_change("new", "back")]),
    ("README.md", r"`make demo` runs in about ([\d.]+) s of CPU time \(([\d.]+) s wall clock",
     [make_demo("cpu_seconds"), make_demo("wall_seconds")]),
    ("README.md", DEMO_ROW.format("moons") + r"training ([\d.]+)%, held-out ([\d.]+)% \| ([\d.]+) s \|",
     [printed("moons", r"training accuracy ([\d.]+)%"), printed("moons", r"held-out accuracy ([\d.]+)%"),
      cpu("moons")]),
    ("README.md", DEMO_ROW.format("moons --optimizer sgd") + r"training ([\d.]+)%, held-out ([\d.]+)% \| ([\d.]+) s \|",
     [printed("moons --optimizer sgd", r"training accuracy ([\d.]+)%"),
      printed("moons --optimizer sgd", r"held-out accuracy ([\d.]+)%"), cpu("moons --optimizer sgd")]),
    ("README.md", DEMO_ROW.format("regression") + r"MSE ([\d.]+) \| ([\d.]+) s \|",
     [printed("regression", r"mean squared error ([\d.e-]+)"), cpu("regression")]),
    ("README.md", DEMO_ROW.format("spiral") + r"training ([\d.]+)%, held-out ([\d.]+)% \| ([\d.]+) s \|",
     [printed("spiral", r"training accuracy ([\d.]+)%"), printed("spiral", r"held-out accuracy ([\d.]+)%"),
      cpu("spiral")]),
    ("README.md", DEMO_ROW.format("digits") + r"held-out ([\d.]+)% \((\d+) digits\) \| ([\d.]+) s \|",
     [printed("digits", r"held-out accuracy ([\d.]+)%"), printed("digits", r"\((\d+) digits"), cpu("digits")]),
    ("README.md", r"spreads up to (\d+)%", [largest_spread]),
    ("README.md", r"the floor of \(a\) ([\d.]+) ms", [bench("mlp_step", "plain floats", "median", scale=1e3)]),
    ("docs/demos.md", r"the largest difference printed is ([\d.e-]+);", [backprop_largest_difference]),
    ("docs/demos.md", r"SGD step \(cost ([\d.]+) → ([\d.]+) with lr 0.5\)",
     [printed("backprop", r"cost before ([\d.]+)"), printed("backprop", r"after ([\d.]+)")]),
    ("docs/demos.md", r"mean squared error ([\d.]+) after 300 epochs",
     [printed("regression", r"mean squared error ([\d.e-]+)")]),
    ("docs/demos.md", r"Adam lr 0.02: ([\d.]+)% training accuracy",
     [printed("spiral", r"training accuracy ([\d.]+)%")]),
    ("docs/demos.md", r"scikit-learn's ([\d,]+) handwritten digits",  # training (the benchmark's (g)) + held out
     [lambda figures, results: results["digits_epoch"]["_info"]["samples"]
      + printed("digits", r"\((\d+) digits")(figures, results)]),
    ("docs/demos.md", r"held-out accuracy ([\d.]+)% after 30 epochs, ([\d.]+) s of training",
     [printed("digits", r"held-out accuracy ([\d.]+)%"), printed("digits", r"training ([\d.]+) s")]),
    ("docs/modes.md", r"([\d.]+)× the forward pass at n = 256 and ([\d.]+)× at n = 512",
     [modes(256, "rev/pass"), modes(512, "rev/pass")]),
    ("docs/modes.md", r"\| forward pass only \(Values\) \| ([\d.]+) ms \| ([\d.]+)× \|",
     [modes(512, "pass ms"), modes_ratio(512, "pass ms")]),
    ("docs/modes.md", r"\| reverse mode: forward \+ `backward\(\)` \| ([\d.]+) ms \|", [modes(512, "reverse ms")]),
    ("docs/modes.md", r"\| forward mode: 512 `jvp`s \| ([\d.]+) s \| (\d+)× \|",
     [modes(512, "jvps ms", 1e-3), modes_ratio(512, "jvps ms")]),
    ("docs/modes.md", r"\| central differences: 1024 float evaluations \| ([\d.]+) ms \| ([\d.]+)× \|",
     [modes(512, "FD ms"), modes_ratio(512, "FD ms")]),
    ("docs/modes.md", r"up to n = (\d+) here", [finite_differences_cheaper_up_to]),
    ("docs/modes.md", r"error lies between ([\d.e-]+) and ([\d.e-]+) in the recorded run",
     [modes_extreme(min, "FD err"), modes_extreme(max, "FD err")]),
    ("docs/modes.md", r"exact gradient to within rounding \(at most ([\d.e-]+)\)",
     [modes_extreme(max, "rev err", "jvp err")]),
    ("docs/engine.md", r"takes \*\*(\d+) bytes\*\* there in the recorded run",
     [bench("bytes_per_node", "valuegrad eager")]),
    ("docs/performance.md", r"it was ([\d.]+) ms vs ([\d.]+) ms per epoch \(compiled vs eager",
     [bench("fit_epoch", "valuegrad compiled", "median", scale=1e3),
      bench("fit_epoch", "valuegrad eager", "median", scale=1e3)]),
    ("docs/performance.md", r"it was (\d+) for batched, (\d+) for torch, (\d+) for the floor and (\d+) for eager",
     [bench("batched_step", "_info", "steps_per_block", engine) for engine in
      ("valuegrad batched", "torch float64", "plain floats", "valuegrad eager")]),
    ("docs/performance.md", r"the hinge counts (\d+) of the 100 samples",
     [bench("batched_step", "_info", "active_samples")]),
    ("docs/performance.md", r"where (\d+) samples count, the floor's step took ([\d.]+) ms in the same run: "
                            r"batched is ([\d.]+)x faster there",
     [bench("batched_step", "_info", "trained_active_samples"),
      bench("batched_step", "plain floats after 50 steps", "median", scale=1e3),
      bench_ratio("batched_step", "plain floats after 50 steps", "valuegrad batched")]),
    ("docs/performance.md", r"measured eager at ([\d.]+)x micrograd in the same run",
     [bench_ratio("batched_step", "micrograd", "valuegrad eager")]),
    ("docs/performance.md", r"the plain-float floor of \(a\) was ([\d.]+) ms",
     [bench("mlp_step", "plain floats", "median", scale=1e3)]),
    ("docs/performance.md", r"reach (\d+)% \(a few samples", [largest_spread]),
    ("docs/rendering.md", r"a graph of ([\d,]+) Values \(a 50,000-op chain times a 50,000-input fused `sum`\) "
                          r"gives its 500-Value summary in ([\d.]+) s \(`max_nodes=5000`: ([\d.]+) s; all ([\d,]+) "
                          r"Values with `max_nodes=10\*\*6`: ([\d.]+) s of DOT text, ([\d.]+) MB\); rendering the "
                          r"500-Value summary to SVG with `dot` takes ([\d.]+) s",
     [rendering(key) for key in ("values", "to_dot_500", "to_dot_5000", "values", "to_dot_all",
                                 "to_dot_all_megabytes", "svg_of_500")]),
    ("docs/rendering.md", r"`DOT_TIMEOUT` \((\d+) s\)", [lambda figures, results: render.DOT_TIMEOUT]),
    ("docs/nn.md", r"a ([\d,]+)-parameter `MLP\(64, \[256, 256, 64\]\)` \(a ([\d.]+) MB file\) saved in ([\d.]+) s "
                   r"and loaded in ([\d.]+) s",
     [save_load(key) for key in ("parameters", "megabytes", "save", "load")]),
    ("docs/nn.md", r"the network starts nearly linear \(about (\d+)% on moons\)",
     [lambda figures, results: 100 * _mean_after(figures["moons_scaling"]["[0, 1]"]["0.05"], 5)]),
    ("docs/nn.md", r"took ([\d.]+) ms eager and ([\d.]+) ms compiled in the recorded benchmark run",
     [bench("fit_epoch", "valuegrad eager", "median", scale=1e3),
      bench("fit_epoch", "valuegrad compiled", "median", scale=1e3)]),
    ("docs/nn.md", r"against ([\d,]+) ms for micrograd", [bench("fit_epoch", "micrograd", "median", scale=1e3)]),
    ("docs/performance.md", r"\(([\d.]+) ms per step of \(a\) with GC on vs ([\d.]+) ms with it off: (\d+)%",
     [micrograd_gc("gc_on"), micrograd_gc("gc_off"), micrograd_gc_share]),
    ("README.md", r"micrograd spends most of its step, (\d+)% in the recorded run", [micrograd_gc_share]),
    ("docs/performance.md", r"each node costs (\d+) bytes", [bench("bytes_per_node", "micrograd")]),
    ("docs/performance.md", r"the first compiled epoch took ([\d.]+) ms, compiling included, and later ones "
                            r"([\d.]+) ms against ([\d.]+) ms eager",
     [fit_backends("moons mse", key) for key in ("compiled_first_epoch", "compiled_epoch", "eager_epoch")]),
    ("docs/performance.md", r"`\"bce_with_logits\"` \| ([\d.]+) ms \| ([\d.]+) ms \| ([\d.]+) ms \|",
     [fit_backends("moons bce_with_logits", key) for key in ("eager_epoch", "compiled_first_epoch", "compiled_epoch")]),
    ("docs/performance.md", r"`\"cross_entropy\"` \| ([\d.]+) ms \| ([\d.]+) ms \| ([\d.]+) ms \|",
     [fit_backends("spiral cross_entropy", key) for key in ("eager_epoch", "compiled_first_epoch", "compiled_epoch")]),
    ("docs/performance.md", r"Compiling is mostly CPython's own `compile\(\)`: ([\d.]+) s for the ([\d,]+)-node step "
                            r"graph of \(a\), which becomes ([\d,]+) lines",
     [lambda figures, results: figures["compile_graph"]["seconds"],
      lambda figures, results: figures["compile_graph"]["nodes"],
      lambda figures, results: figures["compile_graph"]["lines"]]),
    ("docs/performance.md", r"`autograd.compile.MAX_NODES = ([\d_]+)`", [lambda figures, results: compile_max_nodes()]),
    ("docs/performance.md", r"\| ([\d,]+) interior valuegrad nodes",
     [bench("mlp_step", "_info", "interior_nodes_valuegrad")]),
    ("docs/performance.md", r"10⁵ nodes; ([\d,]+) reachable from the root", [bench("ns_per_node", "_info",
                                                                                   "reachable_from_root")]),
    ("docs/performance.md", r"\| (\d+) nodes in one sample's graph, (\d+) array groups \|",
     [bench("batched_step", "_info", "nodes"), bench("batched_step", "_info", "groups")]),
    ("docs/performance.md", r"\| ([\d,]+) training digits; eager is timed on the first (\d+)",
     [bench("digits_epoch", "_info", "samples"), bench("digits_epoch", "_info", "eager_timed_on")]),
    ("docs/performance.md", r"fails at depth (\d+) \(Python's recursion limit is (\d+)\)",
     [bench("deepest_chain", "micrograd", "deepest"), bench("deepest_chain", "micrograd", "recursion_limit")]),
    ("docs/engine.md", r"against (\d+) for micrograd", [bench("bytes_per_node", "micrograd")]),
    ("docs/engine.md", r"backpropagated the same depth in ([\d.]+) s in the recorded run",
     [bench("deepest_chain", "valuegrad eager", "seconds")]),
    ("docs/performance.md", r"\| \(h\) one epoch, ([\d,]+) samples \|", [bench("mnist_epoch", "_info", "samples")]),
    ("docs/performance.md", r"\| seconds per epoch, median of (\d+) \| ([\d.]+) s \| ([\d.]+) s \| ([\d.]+) s \|",
     [lambda figures, results: len(results["mnist_epoch"]["valuegrad batched"]["samples"]),
      *(bench("mnist_epoch", engine, "median") for engine in ("valuegrad batched", "numpy by hand", "torch float64"))]),
    ("docs/performance.md", r"batched / torch float64: \*\*([\d.]+)\*\*; batched / numpy by hand: ([\d.]+)\.",
     [bench_ratio("mnist_epoch", "valuegrad batched", "torch float64"),
      bench_ratio("mnist_epoch", "valuegrad batched", "numpy by hand")]),
    ("docs/performance.md", r"Building the sample's graph took ([\d.]+) s and `compile_batched` ([\d.]+) s; "
                            r"fit's first epoch, compiling included, ([\d.]+) s",
     [bench("mnist_epoch", "_info", key)
      for key in ("build_graph_seconds", "compile_seconds", "first_fit_epoch_seconds")]),
    ("docs/performance.md", r"fit adds (\d+) MB of peak memory over a float64 X of (\d+) MB \(([\d.]+)x\) and "
                            r"(\d+) MB over a float32 X of (\d+) MB \(([\d.]+)x\)",
     [bench("mnist_epoch", "memory", dtype, key, scale=scale) for dtype in ("float64", "float32")
      for key, scale in (("peak_added_bytes", 1e-6), ("array_bytes", 1e-6), ("ratio", 1.0))]),
    ("README.md", r"one epoch of `MLP\(784, \[128, 10\]\)` on 60,000 MNIST-shaped samples takes ([\d.]+) s batched "
                  r"against ([\d.]+) s in torch float64 and ([\d.]+) s in numpy by hand",
     [bench("mnist_epoch", engine, "median") for engine in ("valuegrad batched", "torch float64", "numpy by hand")]),
    ("docs/rendering.md", r"`HUB_FAN_OUT` \((\d+)\)", [lambda figures, results: render.HUB_FAN_OUT]),
    ("docs/rendering.md", r"at most (\d+) Values and `dot` is installed",
     [lambda figures, results: render.NOTEBOOK_MAX_NODES]),
    ("docs/rendering.md", r"300-term sum `x\+x\+…\+x` runs in ([\d.]+) s, the 2,000-term sum \(200 Values drawn; the "
                          r"most operators an expression may have\) in ([\d.]+) s",
     [rendering("graph_sum_300"), rendering("graph_sum_2000")]),
    ("docs/rendering.md", r"renders the neuron above in ([\d.]+) s \(png\), ([\d.]+) s \(svg\) and ([\d.]+) s \(pdf\)",
     [rendering("neuron_png"), rendering("neuron_svg"), rendering("neuron_pdf")]),
]


def _same_figure(quoted: str, actual: float) -> bool:
    """``quoted`` is ``actual`` as printed: rounded to its decimals, or to its significant digits (5.6e-17)."""
    quoted = quoted.replace(",", "")
    if "e" in quoted:
        digits = len(quoted.split("e")[0].replace(".", "").lstrip("-0")) or 1
        return float(f"{actual:.{digits}g}") == float(quoted)
    return _agrees(quoted, actual)


def check_quoted_figures(texts: dict[str, str], figures: dict, results: dict) -> list[str]:
    """Every QUOTED_FIGURES entry against the recorded runs; the disagreements (and patterns gone from a page)."""
    problems = []
    for page, pattern, sources in QUOTED_FIGURES:
        found = re.findall(pattern, texts[page])
        if not found:
            problems.append(f"{page}: no longer says /{pattern}/: update QUOTED_FIGURES with the new wording")
        for quoted in found:
            quoted = (quoted,) if isinstance(quoted, str) else quoted
            for figure, source in zip(quoted, sources):
                actual = source(figures, results)
                if not _same_figure(figure, actual):
                    problems.append(f"{page}: quotes {figure} in /{pattern}/, the recorded run has {actual!r}")
    return problems


def _page_texts() -> dict[str, str]:
    return {page_id(page): " ".join(page.read_text(encoding="utf-8").split()) for page in PAGES}


def test_quoted_figures_come_from_the_recorded_runs():
    """Demo outputs, demo and `make demo` times, modes timings and benchmark prose: as recorded."""
    assert check_quoted_figures(_page_texts(), _figures(), _results()) == []


SCALING_ROW = re.compile(r"\| `MLP\(2, \[(\d+), \1, 1\]\)`, batch (\d+) \| ([\d.]+) ms \| ([\d.]+) ms \| ([\d.]+) ms "
                         r"\| ([\d.]+)x \|")


def check_scaling_table(text: str, results: dict) -> list[str]:
    """docs/performance.md's scaling table against the run: every row of the run, each figure as recorded."""
    recorded = {(row["width"], row["batch"]): row for row in results["mnist_epoch"]["scaling"]["rows"]}
    quoted = SCALING_ROW.findall(text)
    problems = [] if len(quoted) == len(recorded) else [f"{len(quoted)} scaling rows quoted, {len(recorded)} recorded"]
    for width, batch, *cells in quoted:
        row = recorded.get((int(width), int(batch)))
        if row is None:
            problems.append(f"width {width}, batch {batch}: not in the recorded run")
            continue
        times = [row[engine]["median"] * 1e3 for engine in ("valuegrad batched", "numpy by hand", "torch float64")]
        for figure, actual in zip(cells, [*times, times[0] / times[2]]):
            if not _agrees(figure, actual):
                problems.append(f"width {width}, batch {batch}: quotes {figure}, the recorded run has {actual:.4g}")
    return problems


def test_scaling_table_comes_from_the_recorded_run():
    """Issue 23: the (h) scaling table in docs/performance.md is the recorded run's, row for row (break one: red)."""
    text, results = _page_texts()["docs/performance.md"], _results()
    assert check_scaling_table(text, results) == []
    first = results["mnist_epoch"]["scaling"]["rows"][0]
    first["torch float64"]["median"] *= 2
    assert [p.split(":")[0] for p in check_scaling_table(text, results)] == [
        f"width {first['width']}, batch {first['batch']}"] * 2  # torch's time and the ratio


def test_quoted_figures_check_catches_a_wrong_figure():
    """Change one recorded number (or one quoted one) and the check names the page, the figure and the run's."""
    figures, results, texts = _figures(), _results(), _page_texts()
    figures["runs"]["spiral"]["output"] = [line.replace("training accuracy ", "training accuracy 1")
                                           for line in figures["runs"]["spiral"]["output"]]
    problems = check_quoted_figures(texts, figures, results)
    assert [p.split(":")[0] for p in problems] == ["README.md", "docs/demos.md"]
    assert all("quotes 99.2 in" in p and "the recorded run has 199.2" in p for p in problems)
    texts["docs/modes.md"] = texts["docs/modes.md"].replace("up to n = ", "up to n = 1")
    assert any(p.startswith("docs/modes.md: quotes 1") for p in check_quoted_figures(texts, _figures(), results))
    texts["docs/engine.md"] = texts["docs/engine.md"].replace("there in the recorded run", "there")
    assert any("no longer says" in p for p in check_quoted_figures(texts, _figures(), results))


def test_figures_file_names_its_run():
    """The record says when, where and at which commit it was made, and every run in it succeeded."""
    figures = _figures()
    assert re.fullmatch(r"[0-9a-f]{40}", figures["commit"] or "") and figures["date"][:4].isdigit()
    assert figures["machine"]["python"].startswith("CPython")
    assert all(run["status"] == 0 and run["output"] for run in figures["runs"].values())
    from valuegrad.pictures import DEMOS, OTHER_RUNS
    assert set(figures["runs"]) == {*DEMOS, *OTHER_RUNS}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


PICTURE_SIZE = re.compile(r"`(?:docs/)?([\w-]+\.png)`[^\n]*?(\d{2,5}) × (\d{2,5})")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_quoted_picture_sizes_are_the_files(page):
    """A picture's size in a page (`docs/mlp.png` | 2181 × 1483) is what the committed PNG's header says."""
    for name, width, height in PICTURE_SIZE.findall(page.read_text(encoding="utf-8")):
        assert png_size(ROOT / "docs" / name) == (int(width), int(height)), f"{page_id(page)}: {name}"


def test_picture_size_pattern_finds_the_rendering_table():
    text = (ROOT / "docs" / "rendering.md").read_text(encoding="utf-8")
    assert {name for name, _, _ in PICTURE_SIZE.findall(text)} >= {"mlp.png", "backprop_graph.png"}


# docs/nn.md's "Measured" section: tables and sentences rebuilt from the recorded runs, word for word.

def _percent(fraction: float) -> str:
    """96.4%, 99.95%, 100%: a mean of accuracies to two decimals of a percent, trailing zeros dropped."""
    return f"{100 * fraction:.2f}".rstrip("0").rstrip(".") + "%"


def _epoch_reaching(accuracies: list[float], goal: float = 0.97) -> int | None:
    return next((epoch for epoch, accuracy in enumerate(accuracies, 1) if accuracy >= goal), None)


def _mean_after(runs: list[list[float]], epochs: int) -> float:
    return sum(run[epochs - 1] for run in runs) / len(runs)


def moons_scaling_lines(figures: dict) -> list[str]:
    """The rows and sentences of docs/nn.md's "Measured" section, rebuilt from the recorded runs."""
    record = figures["moons_scaling"]
    lines = []
    for lr, label in (("0.05", "0.05"), ("0.01", "0.01 (fit's default)")):
        runs = record["[-1, 1]"][lr]
        reached = [_epoch_reaching(run[:40]) for run in runs]
        shown = ", ".join(str(r) if r else "-" for r in reached)
        means = " / ".join(_percent(_mean_after(runs, e)) for e in (5, 10, 20, 40))
        lines.append(f"| {label} | {sum(r is not None for r in reached)} / {len(runs)} | {shown} "
                     f"(max {max(r for r in reached if r)}) | {means} |")
    for lr in ("0.05", "0.01"):
        runs = record["[0, 1]"][lr]
        reached = [r for r in (_epoch_reaching(run[:40]) for run in runs) if r]
        at = f"at epochs {min(reached)}-{max(reached)}" if len(reached) > 1 else f"at epoch {reached[0]}"
        means = " / ".join(_percent(_mean_after(runs, e)) for e in (5, 10, 20, 40))
        lines.append(f"| {lr} | {len(reached)} / {len(runs)} ({at}) | {means} | "
                     f"{_percent(min(run[39] for run in runs))} |")
    runs = record["[0, 1]"]["0.05"]
    reached = [_epoch_reaching(run) for run in runs]
    found = sorted(r for r in reached if r)
    median = found[len(found) // 2] if len(found) % 2 else (found[len(found) // 2 - 1] + found[len(found) // 2]) / 2
    fast = [_epoch_reaching(run[:40]) for run in record["[-1, 1]"]["0.05"]]
    lines.append(f"Given {len(runs[0])} epochs at lr 0.05, the [0, 1] runs reach 97% for {len(found)} of {len(runs)} "
                 f"seeds, at epochs {', '.join(str(r) if r else '-' for r in reached)} (median {median:g}, against "
                 f"{min(fast)}-{max(fast)} for [-1, 1])")
    for seed, epoch in enumerate(reached):
        if epoch is None:
            lines.append(f"seed {seed} is still at {_percent(runs[seed][-1])} after {len(runs[seed])} epochs")
    slowest = max(_epoch_reaching(run[:40]) for run in record["[-1, 1]"]["0.01"])
    lines.append(f"it reaches 97% on moons within {slowest} epochs for all {len(runs)} seeds measured below")
    return lines


def _short(x: float) -> str:
    """One significant digit in the docs' exponent style: 6e-5, 2e-4."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def sine_regression_lines(figures: dict) -> list[str]:
    record = figures["sine_regression"]
    mse, loss = record["mse"], record["training_loss"]
    return [
        f"100 epochs: `evaluate()` MSE {', '.join(f'{run[99]:.2g}' for run in mse)} for seeds 0, 1, 2 (epoch-average "
        f"training loss {', '.join(f'{run[99]:.2g}' for run in loss)}); after 300 epochs "
        f"{', '.join(_short(run[299]) for run in mse)}.",
    ]


def test_nn_measured_section_is_rebuilt_from_the_recorded_runs():
    text = _page_texts()["docs/nn.md"]
    figures = _figures()
    missing = [line for line in moons_scaling_lines(figures) + sine_regression_lines(figures) if line not in text]
    assert missing == [], "docs/nn.md should say, as recorded in docs/figures.json:\n" + "\n".join(missing)


def test_nn_measured_check_catches_a_changed_run():
    figures = _figures()
    figures["moons_scaling"]["[-1, 1]"]["0.05"][0][6] = 0.9  # seed 0 no longer reaches 97% at epoch 7
    text = _page_texts()["docs/nn.md"]
    assert any(line not in text for line in moons_scaling_lines(figures))


# -- links -----------------------------------------------------------------------------------


def test_readme_has_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_readme_backprop_table_matches_the_demo():
    """The gradient table quoted in the README is what `valuegrad demo backprop` prints today."""
    from valuegrad.demos import backprop

    printed = backprop.report(backprop.worked_example()).splitlines()
    rows = [line.strip() for line in printed if line.strip().split(" ")[0] in backprop.WEIGHTS and "  " in line]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(rows) == len(backprop.WEIGHTS)
    for row in rows:
        assert row in text, row


def repository_url() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^Source = "([^"]+)"', text, re.M)
    assert match, "pyproject.toml [project.urls] has no Source"
    return match[1].rstrip("/")


def linked_files(page: Path) -> list[str]:
    """Repository paths that ``page`` links or embeds, absolute links into the repository included."""
    base = repository_url()
    targets = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        target = target.split("#")[0]
        for prefix in (f"{base}/raw/main/", f"{base}/blob/main/", f"{base}/tree/main/"):
            if target.startswith(prefix):
                targets.append(target[len(prefix):])
                break
        else:
            if target and "://" not in target and not target.startswith("mailto:"):
                targets.append(str((page.parent / target).resolve().relative_to(ROOT)))
    return targets


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_linked_files_exist(page):
    missing = [target for target in linked_files(page) if not (ROOT / target).exists()]
    assert missing == []


def test_readme_links_work_on_a_package_index_page():
    """PyPI shows README.md out of the repository: its images and doc links are absolute, built from one base URL."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t and not t.startswith("#")]
    assert relative == []
    base = repository_url()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    assert images and all(image.startswith(f"{base}/raw/main/") for image in images)
    assert "docs/moons_boundary.png" in linked_files(ROOT / "README.md")
