"""``dfmgan explore RUN``: G's latent space in the browser, served on the loopback address
only, by the standard library's threaded HTTP server (no framework to install, and no CDN:
the page, its script and its style are one file, ``explore.html``, served from here).

The page draws a grid of samples for a seed; clicking samples adds them to A, B or C, or
to the two ends of a walk. ``A − B + C`` shows the result of the paper's arithmetic on the
averaged z's with 8 neighbours (Fig. 7); a walk goes between the two picks by lerp or
slerp (Fig. 4); a conditional G gets a button per class. The maths is the latent tools'
own (``tools/latent.py``) and images are rendered as they render them (BatchNorm frozen
at reference statistics), so the page and ``dfmgan arithmetic`` agree.

The JSON API the page calls (every latent travels as a list of nz numbers):

    GET  /api/info                                  the net: nz, size, channels, classes
    GET  /api/grid?seed=S&n=N&label=L               {"z": [...], "images": [data URLs]}
    POST /api/arithmetic {"a","b","c": [z...], "label"}   result, then 8 neighbours
    POST /api/walk {"a": z, "b": z, "mode": "lerp"|"slerp", "steps": T, "label"}
"""
from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import torch

from ..reading import parse_json
from ..sampling import LATENT_MAX, latent_problem
from .latent import INTERPOLATE, Renderer, arithmetic, neighbours, sheet_latents, walk

PAGE = Path(__file__).with_name("explore.html")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_GRID, MAX_STEPS, MAX_SET = 256, 64, 64


class BadRequest(ValueError):
    """A request the page (or a hand-written one) got wrong: a 400 with this message."""


class Explorer:
    """G behind a lock (one forward at a time), a renderer per class, the API's maths."""

    def __init__(self, G, name: str, seed: int = 0):
        self.G, self.name, self.seed, self.lock = G, name, seed, threading.Lock()
        self.renderers: dict[int | None, Renderer] = {}

    def info(self) -> dict:
        c = self.G.cfg
        return {"name": self.name, "nz": c.nz, "size": c.size, "channels": c.channels,
                "classes": c.n_classes, "latent": c.latent}

    def render(self, z: torch.Tensor, label) -> list[str]:
        label = self.label(label)
        with self.lock:
            if label not in self.renderers:
                self.renderers[label] = Renderer(self.G, label, self.seed)
            images = self.renderers[label](z)
        return [png_url(img) for img in images]

    def label(self, value) -> int | None:
        if not self.G.cfg.n_classes:
            if value is not None:
                raise BadRequest("this generator has no classes: give no label")
            return None
        k = whole(value if value is not None else 0, "label")
        if not 0 <= k < self.G.cfg.n_classes:
            raise BadRequest(f"label must be in 0..{self.G.cfg.n_classes - 1}")
        return k

    def grid(self, seed, n, label) -> dict:
        seed, n = whole(seed, "seed"), whole(n, "n")
        if not (0 <= seed < 2 ** 32 and 1 <= n <= MAX_GRID):
            raise BadRequest(f"seed must be in 0..2^32-1 and n in 1..{MAX_GRID}")
        z = sheet_latents(self.G, n, seed)  # as `sample --n N --seed S` draws
        return {"z": z.tolist(), "images": self.render(z, label)}

    def arithmetic(self, body: dict) -> dict:
        sets = [self.latents(body.get(k), k, MAX_SET) for k in "abc"]
        result = neighbours(arithmetic(*sets), generator=torch.Generator().manual_seed(self.seed))
        return {"images": self.render(result, body.get("label"))}

    def walk(self, body: dict) -> dict:
        mode, steps = body.get("mode", "slerp"), whole(body.get("steps", 8), "steps")
        if not isinstance(mode, str) or mode not in INTERPOLATE or not 2 <= steps <= MAX_STEPS:
            raise BadRequest(f"mode must be {' or '.join(INTERPOLATE)} and steps in 2..{MAX_STEPS}")
        ends = torch.cat([self.latents([body.get(k)], k, 1) for k in "ab"])
        return {"images": self.render(walk(ends, steps, mode), body.get("label"))}

    def latents(self, rows, what: str, most: int) -> torch.Tensor:
        """A list of latents from JSON -> (k, nz), each finite and of G's nz."""
        nz = self.G.cfg.nz
        try:
            z = torch.tensor(rows, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError, OverflowError):  # 10^400: past any float
            raise BadRequest(f"{what}: expected a list of latents of {nz} numbers") from None
        if z.dim() != 2 or z.shape[1] != nz or not 1 <= len(z) <= most or latent_problem(z):
            many = "one latent" if most == 1 else f"1..{most} latents"
            raise BadRequest(f"{what}: expected {many} of {nz} finite numbers within ±{LATENT_MAX:g}")
        return z.float()


def whole(value, what: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError, OverflowError):  # a list, "x", NaN, infinity
        raise BadRequest(f"{what} must be a whole number") from None
    if isinstance(value, float) and value != v:
        raise BadRequest(f"{what} must be a whole number")
    return v


def png_url(image: torch.Tensor) -> str:
    """uint8 (C, H, W) -> a data: URL of its PNG, drawn 4x with no smoothing by the page."""
    from ..imageio import to_pil

    buf = io.BytesIO()
    to_pil(image.permute(1, 2, 0).numpy()).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def handler(explorer: Explorer, served=None):
    """The request handler; ``served()`` is called for each request answered."""
    class Handler(BaseHTTPRequestHandler):
        server_version = "dfmgan-explore"

        def log_message(self, *args):  # quiet: errors come back as JSON, the bar counts
            if served is not None:
                served()

        def do_GET(self):
            url = urlparse(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            routes = {"/api/info": lambda: explorer.info(),
                      "/api/grid": lambda: explorer.grid(q.get("seed", 0), q.get("n", 16), q.get("label"))}
            if url.path in ("/", "/index.html"):
                return self.send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            self.answer(routes.get(url.path))

        def do_POST(self):
            routes = {"/api/arithmetic": explorer.arithmetic, "/api/walk": explorer.walk}
            fn = routes.get(urlparse(self.path).path)
            try:
                n = int(self.headers.get("Content-Length", 0))
                if not 0 <= n <= 1 << 22:
                    raise BadRequest("request body too large")
                body = parse_json(self.rfile.read(n) or b"{}")  # depth-limited: no RecursionError
                if not isinstance(body, dict):
                    raise BadRequest("expected a JSON object")
            except (ValueError, BadRequest) as e:  # ValueError: malformed, too deep, too long
                return self.send(400, json.dumps({"error": str(e)[:300]}).encode(), "application/json")
            self.answer(fn and (lambda: fn(body)))

        def answer(self, fn):
            if fn is None:
                return self.send(404, b'{"error": "no such page"}', "application/json")
            try:
                out, code = fn(), 200
            except (BadRequest, TypeError, ValueError, OverflowError, KeyError) as e:
                out, code = {"error": str(e)[:300] or type(e).__name__}, 400  # the request's fault
            except Exception as e:  # ours: still a JSON answer, never a traceback on stderr
                out, code = {"error": f"internal error: {type(e).__name__}"}, 500
            self.send(code, json.dumps(out).encode(), "application/json")

        def send(self, code: int, body: bytes, kind: str):
            try:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client left before its answer: nothing to tell anyone

    return Handler


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int = 8765,
          served=None) -> ThreadingHTTPServer:
    """A server bound to ``host`` (loopback only), not yet serving: call serve_forever()."""
    if host not in LOOPBACK:
        raise ValueError(f"explore serves on the loopback address only ({', '.join(LOOPBACK)})")
    cls = ThreadingHTTPServer
    if ":" in host:
        import socket

        cls = type("Server6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    try:
        server = cls((host, port), handler(explorer, served))
    except OSError as e:
        from ..errors import ConfigError

        raise ConfigError(f"cannot serve on {host}:{port}: {e.strerror or e}; give another "
                          "--port (0: any free one)") from None
    server.daemon_threads = True
    server.handle_error = quiet_errors(server.handle_error)
    return server


def quiet_errors(handle_error):
    """The server's error hook, silent for a client that disconnects (a closed tab, a
    cancelled fetch): that is normal, not a stack trace on the terminal."""
    import sys

    def handle(request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)):
            return
        handle_error(request, client_address)
    return handle
