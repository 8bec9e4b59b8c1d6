"""``dfmgan explore``: its JSON API answers every request with a result or a 400 (never a
crash), computes what the latent tools compute, serves on the loopback address only, and
the page works in a real browser (headless Chromium driven by selenium)."""
from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dfmgan.cli import main
from dfmgan.snapshot import load_generator
from dfmgan.tools.explore import Explorer, png_url, serve
from dfmgan.tools.latent import Renderer, arithmetic, neighbours, walk


@pytest.fixture(scope="module")
def site():
    G = load_generator("zoo:fashion-mnist-gan").net
    explorer = Explorer(G, "fashion-mnist-gan")
    server = serve(explorer, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", explorer
    server.shutdown()
    server.server_close()


def call(url: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_grid_and_arithmetic_are_the_tools_own(site):
    base, ex = site
    code, grid = call(f"{base}/api/grid?seed=5&n=4")
    assert code == 200 and len(grid["z"]) == 4 and len(grid["z"][0]) == 100
    z = torch.tensor(grid["z"])
    assert torch.equal(z, ex.G.sample_latent(4, torch.Generator().manual_seed(5)))  # sample's z
    render = Renderer(ex.G)
    assert grid["images"] == [png_url(im) for im in render(z)]
    code, out = call(f"{base}/api/arithmetic", {"a": [grid["z"][0]], "b": [grid["z"][1]], "c": grid["z"][2:]})
    want = neighbours(arithmetic(z[:1], z[1:2], z[2:]), generator=torch.Generator().manual_seed(0))
    assert code == 200 and out["images"] == [png_url(im) for im in render(want)]
    code, out = call(f"{base}/api/walk", {"a": grid["z"][0], "b": grid["z"][3], "mode": "lerp", "steps": 5})
    assert code == 200 and out["images"] == [png_url(im) for im in render(walk(z[[0, 3]], 5, "lerp"))]


json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
                           max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/arithmetic", "/api/walk", "/api/nothing"]),
       body=st.dictionaries(st.sampled_from(["a", "b", "c", "mode", "steps", "label"]), json_values, max_size=6))
def test_any_request_gets_a_result_or_a_clear_400(site, path, body):
    code, out = call(site[0] + path, body)
    assert code in (200, 400, 404)
    assert ("images" in out) if code == 200 else isinstance(out["error"], str)


@pytest.mark.parametrize("query", ["seed=-1", "seed=x", "n=0", "n=100000", "label=3", "seed=1.5"])
def test_bad_grid_queries_are_400(site, query):
    code, out = call(f"{site[0]}/api/grid?{query}")
    assert code == 400 and out["error"]


def test_a_body_that_is_not_json_is_400(site):
    assert call(f"{site[0]}/api/walk", raw=b"{not json")[0] == 400
    assert call(f"{site[0]}/api/walk", raw=b"[1, 2]")[0] == 400


def test_only_the_loopback_address_is_served(capsys):
    with pytest.raises(ValueError, match="loopback"):
        serve(Explorer(load_generator("zoo:digits-gan").net, "x"), host="0.0.0.0", port=0)
    with pytest.raises(SystemExit) as stop:  # argparse's own exit: status 2, one line
        main(["explore", "zoo:digits-gan", "--host", "0.0.0.0"])
    assert stop.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_the_page_loads_nothing_from_elsewhere():
    from dfmgan.tools.explore import PAGE

    html = PAGE.read_text()
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html
    assert "<script src" not in html and "<link" not in html


CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
def test_walk_and_arithmetic_by_clicking_in_headless_chromium(site, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, ex = site
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        browser.get(base + "/")
        wait = WebDriverWait(browser, 60)
        grid = lambda: browser.find_elements(By.CSS_SELECTOR, "#grid img")  # noqa: E731
        wait.until(lambda b: len(grid()) == 16)
        target = Select(browser.find_element(By.ID, "target"))
        for k, i in (("a", 0), ("b", 1), ("c", 2), ("walk", 3), ("walk", 4)):
            target.select_by_value(k)
            grid()[i].click()
        browser.find_element(By.ID, "do-arith").click()
        result = lambda: browser.find_elements(By.CSS_SELECTOR, "#arith-result img")  # noqa: E731
        wait.until(lambda b: len(result()) == 9)
        Select(browser.find_element(By.ID, "mode")).select_by_value("lerp")
        steps = browser.find_element(By.ID, "steps")
        steps.clear()
        steps.send_keys("5")
        browser.find_element(By.ID, "do-walk").click()
        walked = lambda: browser.find_elements(By.CSS_SELECTOR, "#walk-result img")  # noqa: E731
        wait.until(lambda b: len(walked()) == 5)
        # what the page shows is what the tools compute for the samples clicked
        z = ex.G.sample_latent(16, torch.Generator().manual_seed(0))
        render = Renderer(ex.G)
        want = neighbours(arithmetic(z[:1], z[1:2], z[2:3]), generator=torch.Generator().manual_seed(0))
        assert [im.get_attribute("src") for im in result()] == [png_url(im) for im in render(want)]
        ends = [png_url(im) for im in render(z[[3, 4]])]
        assert [walked()[0].get_attribute("src"), walked()[-1].get_attribute("src")] == ends
        assert browser.find_element(By.ID, "status").text == ""
        shot = Path(os.environ.get("EXPLORE_SCREENSHOT", tmp_path / "explore.png"))
        browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:4] == b"\x89PNG"
    finally:
        browser.quit()


def test_a_conditional_generator_draws_each_class():
    """Class buttons send ``label``; each class renders as the tools render it."""
    from dfmgan.models import Generator
    from dfmgan.models.netconfig import NetConfig

    G = Generator(NetConfig(size=28, channels=1, g_width=4, d_width=4, n_classes=3)).eval()
    ex = Explorer(G, "cond")
    assert ex.info()["classes"] == 3
    grid = ex.grid(2, 4, 1)
    z = torch.tensor(grid["z"])
    assert grid["images"] == [png_url(im) for im in Renderer(G, label=1)(z)]
    assert grid["images"] != ex.grid(2, 4, 2)["images"]  # another class, other images
    from dfmgan.tools.explore import BadRequest

    for bad in (3, -1, "x", 1.5):
        with pytest.raises(BadRequest):
            ex.grid(2, 4, bad)
    out = ex.arithmetic({"a": grid["z"][:1], "b": grid["z"][1:2], "c": grid["z"][2:3], "label": 2})
    assert len(out["images"]) == 9


HOSTILE_BODIES = {  # raw bodies the page never sends
    "100,000 levels deep": b"[" * 100_000 + b"]" * 100_000,
    "a deep object": b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "latents of 10^400": b'{"a": [[' + b", ".join([b"1" + b"0" * 400] * 100) + b']], "b": [[0]], "c": [[0]]}',
    "1e400 (infinity)": b'{"a": [[1e400]], "b": [[0]], "c": [[0]]}',
    "NaN": b'{"a": NaN}', "not UTF-8": b"\xff\xfe{}", "empty object": b"{}",
    "steps of 10^400": b'{"a": [0], "b": [0], "steps": ' + b"9" * 400 + b"}",
    "label of 10^400": b'{"a": [[0]], "b": [[0]], "c": [[0]], "label": ' + b"9" * 400 + b"}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize("path", ["/api/arithmetic", "/api/walk"])
def test_hostile_bodies_get_a_4xx_json_answer(site, name, path, capfd):
    code, out = call(site[0] + path, raw=HOSTILE_BODIES[name])
    assert 400 <= code < 500 and isinstance(out["error"], str), (name, code, out)
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_that_disconnects_prints_nothing(site, capfd):
    import socket

    host, port = site[0].removeprefix("http://").split(":")
    for _ in range(20):  # ask for a big grid, then leave before the answer
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /api/grid?seed=1&n=256 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # a reset, not a polite close
    assert call(f"{site[0]}/api/info")[0] == 200  # still serving
    import time

    time.sleep(1.0)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err
