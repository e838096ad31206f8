"""What a learner sees in a real browser (issue 16): JupyterLab, started here on a free localhost port, runs
the student edition (what `make lab` opens) of every notebook that uses `lk.widgets` in headless Chromium, in
the smoke profile, and the page is checked: no traceback, every widget rendered, every plotly scatter trace with
x and y arrays in the page, and one change to each dropdown and slider changes what is shown. Headless
papermill runs cannot see any of this.

Needs Debian's `chromium` and Playwright's Python package (no browser download: Playwright drives the system
chromium); skipped with the reason where either is missing. `LABKIT_SCREENSHOTS=DIR` keeps a screenshot of
each notebook's first widget as a learner sees it."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.classroom import release
from labkit.core import notebooks

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(  # CI (CI=true) runs them anyway: a missing browser fails there, never skips
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright's Python package is missing (pip install -e '.[test]')")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
RUN_TIMEOUT_MS = 600_000  # one notebook in smoke, run by the page (06 takes minutes on 2 busy cores)
CHANGE_TIMEOUT_MS = 60_000  # an interaction may re-measure (00's target picker)
# The settings a fresh JupyterLab would need changed for a test: every cell in the page (not windowed
# away off screen), no news or update pop-ups over the notebook.
SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False}}


def _uses_widgets(nb: Path) -> bool:
    cells = json.loads(nb.read_text())["cells"]
    return any(c["cell_type"] == "code" and "lk.widgets" in "".join(c["source"]) for c in cells)


WIDGET_NOTEBOOKS = [release.STUDENT_DIR / nb.name for nb in notebooks.all_notebooks() if _uses_widgets(nb)]


def _smoke_copy(nb: Path, dest: Path, kernel: str) -> None:
    """`nb` into `dest` with its parameters cell set to the smoke profile and the kernel this suite runs."""
    data = json.loads(nb.read_text())
    params = next(c for c in data["cells"] if "parameters" in c["metadata"].get("tags", []))
    src, n = re.subn(r'^PROFILE = "\w+"', 'PROFILE = "smoke"', "".join(params["source"]), flags=re.M)
    assert n == 1, f"{nb.name}: no PROFILE line in the parameters cell to set to smoke"
    params["source"] = src
    data["metadata"]["kernelspec"]["name"] = kernel
    (dest / nb.name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port with a token, serving smoke copies of the notebooks from
    ROOT/notebooks; their kernels share the run folder ROOT/run. Yields (url, token, ROOT)."""
    root = tmp_path_factory.mktemp("lab")
    work, settings, log = root / "notebooks", root / "settings", root / "jupyterlab.log"
    work.mkdir()
    kernel = notebooks.kernel_name()
    for nb in WIDGET_NOTEBOOKS:
        _smoke_copy(nb, work, kernel)
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "LABKIT_RUN_DIR": str(root / "run"), "JUPYTER_CONFIG_DIR": str(root / "config")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--LabApp.extension_manager=readonly",
           "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={root / 'workspaces'}"]
    with log.open("w") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if server.poll() is not None or time.time() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield url, token, root
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


# ---------------------------------------------------------------- what the page shows (JavaScript)

# the notebook `path` is the current tab and its kernel is idle
KERNEL_IDLE = """path => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = p && p.context && p.context.path === path && p.sessionContext.session && p.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""
RUN_ALL = """() => { window.__labkitRun = 'running';
  window.jupyterapp.commands.execute('notebook:run-all-cells')
    .then(() => { window.__labkitRun = 'done'; }, e => { window.__labkitRun = 'failed: ' + e; }); }"""
ERRORS = """() => { const errors = [];
  for (const cell of window.jupyterapp.shell.currentWidget.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (const o of cell.model.outputs.toJSON())
      if (o.output_type === 'error') errors.push(`cell ${cell.model.id}: ${o.ename}: ${o.evalue}`);
  }
  for (const el of document.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    if (el.innerText.includes('Traceback')) errors.push(el.innerText.slice(0, 1500));
  return errors; }"""
# Marks each widget output (from the notebook's model: a widget view's element has no mime type in the page)
# and returns what it shows: whether a widget rendered there, and its text.
WIDGETS = f"""() => {{ const found = [];
  for (const cell of window.jupyterapp.shell.currentWidget.content.widgets) {{
    if (cell.model.type !== 'code') continue;
    const outputs = cell.model.outputs;
    for (let i = 0; i < outputs.length; i++) {{
      if (!('{WIDGET_MIME}' in outputs.get(i).data)) continue;
      const el = cell.outputArea.widgets[i].node;
      el.setAttribute('data-labkit-widget', '');
      // a view that failed says so; one whose model the kernel closed (a finished tqdm bar) is empty
      found.push({{rendered: !!el.querySelector('.jupyter-widgets'), error: el.innerText.includes('Error displaying'),
                  loading: el.innerText.includes('Loading widget'), text: el.innerText.slice(0, 300)}});
    }}
  }}
  return found; }}"""
TRACES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => (gd.data || []).map(t => {
  // an array, a typed array, or plotly's base64 typed-array spec ({dtype, bdata}, decoded when drawn)
  const n = a => (Array.isArray(a) || ArrayBuffer.isView(a)) ? a.length : (a && a.bdata !== undefined ? -1 : null);
  return {name: t.name, type: t.type || 'scatter', x: n(t.x), y: n(t.y)}; }))"""
# what a widget output shows: its text and, for each figure in it, the data and title as drawn
SHOWN = """el => el.innerText + JSON.stringify([...el.querySelectorAll('.js-plotly-plot')].map(gd =>
  [(gd.data || []).map(t => [t.x, t.y, t.marker && t.marker.color, t.text]), gd.layout && gd.layout.title]))"""

def _controls(page):
    """Every dropdown and slider inside a widget output, each with the output that holds it."""
    found = []
    page.evaluate(WIDGETS)  # marks the widget outputs
    for out in page.query_selector_all("[data-labkit-widget]"):
        found += [(out, "dropdown", c) for c in out.query_selector_all(".widget-dropdown select")]
        found += [(out, "slider", c) for c in out.query_selector_all(".widget-slider .noUi-handle")]
    return found


def _interact(kind: str, control) -> str:
    """Change one control by one step, as a learner would; returns what was done."""
    if kind == "dropdown":
        n, i = control.evaluate("s => [s.options.length, s.selectedIndex]")
        control.select_option(index=(i + 1) % n)
        return f"dropdown to option {(i + 1) % n} of {n}"
    now, top = (float(control.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
    key = "ArrowLeft" if now >= top else "ArrowRight"
    control.focus()
    control.press(key)
    return f"slider {key}"


def _scatter_without_data(page) -> list:
    """(figure index, trace) for each scatter trace in the page whose x or y is not an array."""
    return [(i, t) for i, fig in enumerate(page.evaluate(TRACES)) for t in fig
            if t["type"] == "scatter" and (t["x"] is None or t["y"] is None)]


def _run_all(page, name: str) -> None:
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
    page.evaluate(RUN_ALL)
    try:
        page.wait_for_function("() => window.__labkitRun !== 'running'", timeout=RUN_TIMEOUT_MS, polling=1000)
    except sync_api.TimeoutError:
        pytest.fail(f"{name} did not finish running within {RUN_TIMEOUT_MS / 1000:.0f} s in the browser")
    assert page.evaluate("window.__labkitRun") == "done", page.evaluate("window.__labkitRun")
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=60_000)


@pytest.mark.parametrize("nb", WIDGET_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_in_a_real_browser(nb, lab, browser, tmp_path, browser_runs):
    url, token, root = lab
    shots = Path(os.environ.get("LABKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(f"{url}/lab/tree/{nb.name}?reset&token={token}")  # reset: only this notebook open
        _run_all(page, nb.name)
        try:
            page.wait_for_function(f"() => !({WIDGETS})().some(w => w.loading)", timeout=60_000, polling=500)
        except sync_api.TimeoutError:
            pytest.fail(f"{nb.stem}: widgets still loading after 60 s: {page.evaluate(WIDGETS)}")
        assert not (errors := page.evaluate(ERRORS)), f"{nb.stem} shows errors:\n" + "\n".join(errors)
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")  # the run's outputs, as a
        (root / "run" / "notebooks").mkdir(parents=True, exist_ok=True)                # papermill run keeps them
        shutil.copy2(root / "notebooks" / nb.name, root / "run" / "notebooks" / nb.name)

        widgets = page.evaluate(WIDGETS)
        assert widgets, f"{nb.stem} uses lk.widgets but shows no widget"
        broken = [w["text"] for w in widgets if w["error"]]
        assert not broken, f"{nb.stem}: {len(broken)} of {len(widgets)} widgets did not render: {broken}"
        assert any(w["rendered"] for w in widgets), f"{nb.stem}: no widget rendered: {widgets}"

        assert not (empty := _scatter_without_data(page)), f"{nb.stem}: plotly scatter traces without x or y " \
            f"in the page (figure, trace): {empty}"

        controls = _controls(page)
        assert controls, f"{nb.stem} shows no dropdown or slider to change"
        for out, kind, control in controls:
            before = out.evaluate(SHOWN)
            done = _interact(kind, control)
            try:
                page.wait_for_function(f"([el, before]) => ({SHOWN})(el) !== before", arg=[out, before],
                                       timeout=CHANGE_TIMEOUT_MS, polling=250)
            except sync_api.TimeoutError:
                pytest.fail(f"{nb.stem}: {done} changed nothing shown within {CHANGE_TIMEOUT_MS / 1000:.0f} s")
            page.wait_for_function(KERNEL_IDLE, arg=nb.name, timeout=CHANGE_TIMEOUT_MS)
        assert not (errors := page.evaluate(ERRORS)), f"{nb.stem} shows errors after interactions:\n{errors}"
        assert not (empty := _scatter_without_data(page)), f"{nb.stem}: after the interactions, plotly scatter " \
            f"traces without x or y (figure, trace): {empty}"
        browser_runs[nb.name[:2]] = root / "run"  # the student edition ran to the end: its run stands for one
    finally:
        if controls := _controls(page):
            controls[0][0].scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{nb.stem}.png"))
        page.close()
