"""autograd.explore's page in a real browser: Debian's chromium + chromedriver driven by selenium (one per module)."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import time
from pathlib import Path

import pytest

import autograd
from autograd import Value, explore
from autograd.render import format_number

pytestmark = pytest.mark.slow  # starts a browser

CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
MIN_READABLE_PX = 9.5  # rendered font size of the smallest text in the graph after "fit"
SIZES = ((1400, 900), (700, 900))


def _missing() -> list[str]:
    missing = []
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (the dev extra: pip install 'valuegrad[dev]')")
    if CHROMIUM is None:
        missing.append("chromium (apt-get install chromium)")
    if CHROMEDRIVER is None:
        missing.append("chromedriver (apt-get install chromium-driver)")
    if shutil.which("dot") is None:
        missing.append("graphviz's dot (apt-get install graphviz)")
    return missing


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        message = "the browser tests need " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: these tests must run there, .ci/run installs them)")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def neuron() -> Value:
    x1, w1, x2, w2, b = (Value(v, label=n) for n, v in (("x1", 2.0), ("w1", -3.0), ("x2", 0.5), ("w2", 1.0),
                                                         ("b", 0.25)))
    out = (x1 * w1 + x2 * w2 + b + x1).tanh()  # x1 feeds two ops
    out.label = "out"
    return out


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The demo's two pages (neuron, 2-2-1 network) and a neuron with a shared input, with their roots."""
    if _missing():
        pytest.skip("no browser")  # the browser fixture reports (or fails in CI)
    from valuegrad.demos.backprop import engine_graph
    from valuegrad.demos.explore import write_pages

    directory = Path(os.environ.get("VALUEGRAD_SCREENSHOTS") or tmp_path_factory.mktemp("explore"))
    directory.mkdir(parents=True, exist_ok=True)
    neuron_page, network_page = write_pages(directory)
    shared = neuron()
    return {"neuron": Path(neuron_page), "network": Path(network_page), "network_root": engine_graph()[1]["C"],
            "shared": Path(explore(shared, directory / "shared.html")), "shared_root": shared, "dir": directory}


def load(driver, path: Path, *, size=(1400, 900), fragment: str = "") -> None:
    driver.set_window_size(*size)
    driver.get("about:blank")  # a fresh load even when only the fragment differs
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(path.as_uri() + fragment)
    for _ in range(100):
        if driver.execute_script("return document.body && document.body.getAttribute('data-ready')") == "true":
            return
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never became ready: {driver.get_log('browser')}")


def press(driver, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.TAG_NAME, "body").send_keys(key)


def record_texts(driver) -> list[list[str]]:
    """For each Value (page order): the texts of its first record in the SVG."""
    return driver.execute_script("""
        var data = JSON.parse(document.getElementById('graph-data').textContent);
        return data.nodes.map(function (n) {
          return Array.prototype.map.call(document.getElementById(n.svg[0]).querySelectorAll('text'),
                                          function (t) { return t.textContent; });
        });""")


def page_data(driver) -> dict:
    return driver.execute_script("return JSON.parse(document.getElementById('graph-data').textContent)")


def severe(logs: list[dict]) -> list[dict]:
    return [entry for entry in logs if entry["level"] in ("SEVERE", "WARNING")]


# -- loading: no errors, no requests ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["neuron", "network"])
def test_page_loads_without_console_errors_or_requests(browser, pages, name):
    load(browser, pages[name])
    assert severe(browser.get_log("browser")) == []
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    csp = browser.execute_script(
        "return document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert csp == CSP
    assert browser.execute_script("return document.body.getAttribute('data-step')") == "0"


def test_csp_blocks_a_request_the_page_would_make(browser, pages):
    """The policy is in force: an image from the network is refused (and reported), so none can slip through."""
    load(browser, pages["neuron"])
    browser.execute_script(
        "var i = new Image(); i.src = 'https://example.invalid/x.png'; document.body.appendChild(i);")
    time.sleep(0.3)
    logs = browser.get_log("browser")
    assert any("Content Security Policy" in entry["message"] for entry in logs), logs


# -- stepping ----------------------------------------------------------------------------------------

def test_end_shows_the_engine_grads_and_home_hides_them(browser, pages):
    from selenium.webdriver.common.keys import Keys

    root = pages["network_root"]
    order = autograd.topological_order(root, include_leaves=True)
    grads = autograd.gradients(root, 1.0)
    load(browser, pages["network"])
    press(browser, Keys.END)
    last = 2 * len(autograd.topological_order(root)) + 1
    assert browser.execute_script("return document.body.getAttribute('data-step')") == str(last)
    assert browser.execute_script("return location.hash") == f"#step={last}"
    for node, texts in zip(order, record_texts(browser)):
        assert texts[-1] == "grad " + format_number(grads[node]), (node.label, texts)
        assert texts[-2] == "data " + format_number(node.data)
    press(browser, Keys.HOME)
    texts = record_texts(browser)
    assert all(t[-1] == "grad ?" for t in texts)
    assert [t[-2] == "data ?" for t in texts] == [bool(node.parents) for node in order]
    assert severe(browser.get_log("browser")) == []


def test_forward_steps_fill_values_in_topological_order(browser, pages):
    from selenium.webdriver.common.keys import Keys

    root = pages["shared_root"]
    order = autograd.topological_order(root, include_leaves=True)
    forward = autograd.topological_order(root)
    load(browser, pages["shared"])
    for k, node in enumerate(forward, start=1):
        press(browser, Keys.ARROW_RIGHT)
        shown = [t[-2] != "data ?" for t in record_texts(browser)]
        assert shown == [not n.parents or n in forward[:k] for n in order], k
        assert node.op in browser.execute_script("return document.getElementById('caption').textContent")


def test_backward_step_shows_upstream_times_local_and_running_sum(browser, pages):
    root = pages["shared_root"]
    forward = autograd.topological_order(root)
    grads = autograd.gradients(root, 1.0)
    x1 = next(n for n in autograd.topological_order(root, include_leaves=True) if n.label == "x1")
    # Backward steps start after the forward ones and the seed; find the step where x1's first term arrives.
    backward = list(reversed(forward))
    first = next(i for i, node in enumerate(backward) if x1 in node.parents)
    step = len(forward) + 2 + first
    load(browser, pages["shared"], fragment=f"#step={step}")
    node = backward[first]
    position = node.parents.index(x1)
    upstream, local = grads[node], node.local_grads[position]
    expected = f"{format_number(upstream)} \u00d7 {format_number(local)} = {format_number(upstream * local)}"
    active = browser.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('g.edge.active text'), t => t.textContent)")
    assert expected in active
    caption = browser.execute_script("return document.getElementById('caption').textContent")
    assert f"x1.grad so far {format_number(upstream * local)}, 1 of 2 uses" in caption
    x1_text = browser.execute_script(
        "var d = JSON.parse(document.getElementById('graph-data').textContent);"
        "var n = d.nodes.filter(n => n.name === 'x1')[0];"
        "var t = document.getElementById(n.svg[0]).querySelectorAll('text');"
        "return [t[t.length - 1].textContent, t[t.length - 1].getAttribute('class')]")
    assert x1_text == [f"grad {format_number(upstream * local)}", "partial"]  # a running sum, marked as such


def test_keys_play_and_the_url_fragment(browser, pages):
    from selenium.webdriver.common.keys import Keys

    load(browser, pages["neuron"], fragment="#step=3")
    assert browser.execute_script("return document.body.getAttribute('data-step')") == "3"
    press(browser, Keys.ARROW_LEFT)
    assert browser.execute_script("return location.hash") == "#step=2"
    press(browser, Keys.SPACE)
    assert browser.execute_script("return document.getElementById('play').textContent") == "pause"
    press(browser, Keys.SPACE)
    assert browser.execute_script("return document.getElementById('play').textContent") == "play"
    browser.execute_script("location.hash = '#step=5'")
    time.sleep(0.1)
    assert browser.execute_script("return document.body.getAttribute('data-step')") == "5"


# -- clicking a node: its grad as a sum over its users --------------------------------------------

@pytest.mark.parametrize("label", ["x1", "w1", "out"])
def test_click_shows_a_sum_equal_to_the_grad(browser, pages, label):
    root = pages["shared_root"]
    node = next(n for n in autograd.topological_order(root, include_leaves=True) if n.label == label)
    grad = autograd.gradients(root, 1.0)[node]
    load(browser, pages["shared"])
    click_record(browser, label)
    panel = browser.execute_script("""
        var terms = Array.prototype.map.call(document.querySelectorAll('#grad-terms li'),
                                             li => [li.getAttribute('data-contribution'), li.textContent]);
        var total = document.getElementById('grad-total');
        return {terms: terms, total: total.getAttribute('data-grad'),
                text: document.getElementById('panel').textContent};""")
    assert float(panel["total"]) == grad
    if node is root:
        assert panel["terms"] == [] and "the seed" in panel["text"]
        return
    uses = sum(parent is node for user in autograd.topological_order(root) for parent in user.parents)
    assert len(panel["terms"]) == uses
    assert sum(float(c) for c, _ in panel["terms"]) == pytest.approx(grad, rel=1e-12)
    assert f"grad = {format_number(grad)}" in panel["text"] and repr(grad) in panel["text"]
    if node.label == "w1":  # d(x1*w1)/dw1 = x1 = 2: the term shows upstream x local = contribution
        assert "\u00d7 2 =" in panel["terms"][0][1]


def click_record(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    node_id = driver.execute_script(
        "return JSON.parse(document.getElementById('graph-data').textContent).nodes"
        ".filter(n => n.name === arguments[0])[0].svg[0]", label)
    driver.find_element(By.ID, node_id).click()
    assert driver.execute_script("return document.getElementById('panel').querySelector('h2').textContent") == label


# -- quiz ------------------------------------------------------------------------------------------------

def test_quiz_accepts_the_right_grad_and_rejects_a_wrong_one(browser, pages):
    from selenium.webdriver.common.by import By

    root = pages["shared_root"]
    x1 = next(n for n in autograd.topological_order(root, include_leaves=True) if n.label == "x1")
    grad = autograd.gradients(root, 1.0)[x1]
    load(browser, pages["shared"])
    browser.find_element(By.ID, "quiz").click()
    assert all(t[-1] == "grad ?" for t in record_texts(browser)[:-1])  # hidden, except the seed of the output
    click_record(browser, "x1")
    answer = browser.find_element(By.ID, "answer")
    answer.send_keys(repr(grad * (1 + 1e-5)))  # off by 1e-5 relative: wrong
    browser.find_element(By.ID, "check").click()
    assert "wrong" in browser.find_element(By.ID, "verdict").text
    assert "quiz-wrong" in browser.find_element(By.ID, node_id(browser, "x1")).get_attribute("class")
    answer = browser.find_element(By.ID, "answer")
    answer.clear()
    answer.send_keys(repr(grad * (1 + 1e-7)))  # within 1e-6 relative: right
    browser.find_element(By.ID, "check").click()
    panel = browser.find_element(By.ID, "panel").text
    assert "right!" in panel and float(browser.find_element(By.ID, "grad-total").get_attribute("data-grad")) == grad
    assert browser.find_element(By.ID, "score").text == "score: 1 right of 1 tried"
    assert "quiz-right" in browser.find_element(By.ID, node_id(browser, "x1")).get_attribute("class")
    click_record(browser, "w1")  # reveal: shown, not scored
    browser.find_element(By.ID, "reveal").click()
    assert browser.find_element(By.ID, "grad-total").get_attribute("data-grad") is not None
    assert browser.find_element(By.ID, "score").text == "score: 1 right of 1 tried"
    assert severe(browser.get_log("browser")) == []


def node_id(driver, label: str) -> str:
    return driver.execute_script(
        "return JSON.parse(document.getElementById('graph-data').textContent).nodes"
        ".filter(n => n.name === arguments[0])[0].svg[0]", label)


# -- readable at any size: pan, zoom, fit; screenshots ---------------------------------------------------

def smallest_rendered_font(driver) -> float:
    """The smallest font size, in CSS pixels on screen, of the graph's texts (font-size x the zoom)."""
    return driver.execute_script("""
        var smallest = Infinity;
        document.querySelectorAll('#stage svg text').forEach(function (t) {
          var box = t.getBBox(), rect = t.getBoundingClientRect();
          var size = parseFloat(t.getAttribute('font-size'));
          if (box.height > 0) { smallest = Math.min(smallest, size * rect.height / box.height); }
        });
        return smallest;""")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["neuron", "network"])
def test_screenshot_is_drawn_and_its_text_readable(browser, pages, name, size):
    image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) reads the screenshot")
    root = pages["network_root"] if name == "network" else None
    step = 2 * len(autograd.topological_order(root)) + 1 if root is not None else 0
    load(browser, pages[name], size=size, fragment=f"#step={step}" if step else "#step=9")
    assert smallest_rendered_font(browser) >= MIN_READABLE_PX
    png = browser.get_screenshot_as_png()
    (pages["dir"] / f"{name}_{size[0]}x{size[1]}.png").write_bytes(png)
    with image.open(io.BytesIO(png)) as shot:
        assert shot.width >= size[0] * 0.9
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, boxes, the red active edge: not a blank page
    # the texts the learner reads are on screen: a record of the graph lies inside the view
    visible = browser.execute_script("""
        var v = document.getElementById('view').getBoundingClientRect(), n = 0;
        document.querySelectorAll('g.node').forEach(function (g) {
          var r = g.getBoundingClientRect();
          if (r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom) { n++; }
        });
        return n;""")
    assert visible >= 3


def test_zoom_buttons_wheel_drag_and_fit(browser, pages):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    load(browser, pages["network"], size=(700, 900))

    def transform() -> tuple[float, float, float]:
        text = browser.execute_script("return document.getElementById('stage').style.transform")
        numbers = [float(x) for x in text.replace("translate(", "").replace("px", "").replace(") scale(", ",")
                   .rstrip(")").split(",")]
        return numbers[0], numbers[1], numbers[2]

    fitted = transform()
    browser.find_element(By.ID, "zoom-in").click()
    assert transform()[2] == pytest.approx(fitted[2] * 1.25, rel=1e-4)  # CSS keeps 6 digits
    browser.execute_script("""document.getElementById('view').dispatchEvent(
        new WheelEvent('wheel', {deltaY: 200, clientX: 300, clientY: 400, bubbles: true, cancelable: true}));""")
    assert transform()[2] < fitted[2] * 1.25
    before = transform()
    ActionChains(browser).move_to_element_with_offset(browser.find_element(By.ID, "view"), 0, 0) \
        .click_and_hold().move_by_offset(60, 40).release().perform()
    after = transform()
    assert (after[0] - before[0], after[1] - before[1]) == pytest.approx((60, 40), abs=1)
    browser.find_element(By.ID, "fit").click()
    assert transform() == pytest.approx(fitted, rel=1e-4)
    assert smallest_rendered_font(browser) >= MIN_READABLE_PX  # fit clamps: panning instead of shrinking


def test_a_400_value_mlp_page_loads_and_ends_with_the_engine_grads(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    import nn

    model = nn.MLP(2, [16, 16, 1], seed=0)
    out = model([Value(0.5, label="x1"), Value(-0.25, label="x2")])
    path = Path(explore(out, tmp_path / "mlp.html"))
    load(browser, path)
    assert smallest_rendered_font(browser) >= MIN_READABLE_PX  # 43,000 pt tall: panned, never shrunk
    press(browser, Keys.END)
    grads = autograd.gradients(out, 1.0)
    order = autograd.topological_order(out, include_leaves=True)
    texts = record_texts(browser)
    assert [t[-1] for t in texts] == ["grad " + format_number(grads[node]) for node in order]
    assert severe(browser.get_log("browser")) == []
