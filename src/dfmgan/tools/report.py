"""``dfmgan report RUN_DIR``: one self-contained HTML page for a run, with loss and metric
curves (PNG plots), sample grids over training, the config and the final metrics. Every
image is embedded as base64, so the page can be mailed or archived as one file."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from ..files import atomic_write
from ..marks import HTML_META
from ..training.rundir import RunDir
from ..training.stats import read_rows, read_stats

MAX_GRIDS = 8
PANELS = [("Losses", ["loss/D", "loss/G", "loss/G_adv"]), ("D outputs", ["D(x)", "D(G(z))"]),
          ("DFM: denoiser loss on corrupted real features", ["dfm/denoiser_loss"]),
          ("DFM: ||r(Φ) - Φ|| on generated features", ["dfm/residual_gen"]),
          ("Feature matching", ["fm/distance"]),
          ("DFM: gradient norm at G(z), DFM term / adversarial term", ["dfm/grad_ratio"])]


def eval_panels(rows: list[dict]) -> list[tuple[str, list[str]]]:
    """One panel per number scored during training (``eval/KEY``) that its metric says
    which way is better, with its best so far and the raw G's beside an EMA."""
    from ..evaluation.registry import all_metrics

    better = {k: v for m in all_metrics().values() for k, v in m.better.items()}
    keys = [k for k in better if any(f"eval/{k}" in r for r in rows)]  # an estimate's spread: no
    return [(f"{k} during training ({better[k]} is better) · eval_raw: the raw G beside an EMA",
             [f"eval/{k}", f"eval/best_{k}", f"eval_raw/{k}"]) for k in keys]


def smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v - (values[i - window] if i >= window else 0.0)
        out.append(acc / min(i + 1, window))
    return out


def curve_png(rows: list[dict], keys: list[str], title: str) -> bytes | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [k for k in keys if any(k in r for r in rows)]
    if not present:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for k in present:
        pts = [(r["step"], r[k]) for r in rows if k in r]
        window = max(1, len(pts) // 100)
        steps, raw = [p[0] for p in pts], [p[1] for p in pts]
        line, = ax.plot(steps, smooth(raw, window), label=k, lw=1.2)
        if window > 1:  # the raw values, faint, behind their moving average
            ax.plot(steps, raw, color=line.get_color(), lw=0.6, alpha=0.25)
    ax.set_title(title), ax.set_xlabel("step"), ax.legend(fontsize=8), ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def grids_section(samples: Path) -> str:
    files = sorted(p for p in samples.glob("[0-9]*.png"))
    if len(files) > MAX_GRIDS:  # evenly spaced, always the last
        step = (len(files) - 1) / (MAX_GRIDS - 1)
        files = [files[round(i * step)] for i in range(MAX_GRIDS)]
    cells = [f"<figure>{img_tag(p.read_bytes(), p.stem)}<figcaption>step {int(p.stem)}"
             "</figcaption></figure>" for p in files]
    return "<h2>Samples over training</h2><div class=grids>" + "".join(cells) + "</div>"


def metrics_section(path: Path) -> str:
    from ..evaluation.registry import get_metric

    rows = read_rows(path) if path.exists() else []
    if not rows:  # none yet, or only lines that are not JSON rows
        return "<h2>Metrics</h2><p>No <code>dfmgan eval</code> results yet.</p>"
    last = rows[-1]
    prov = last.get("provenance", last)  # rows from before the provenance block: flat
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4f}</td></tr>"
                    for k, v in last.items() if isinstance(v, float) and k != "seconds")
    notes = "".join(f"<li><b>{html.escape(m)}</b>: {html.escape(get_metric(m).meaning)}</li>"
                    for m in prov.get("metrics", []))
    where = html.escape(f"{prov.get('feature_net')} · {prov.get('n_gen')} generated vs "
                        f"{prov.get('n_real')} real · step {prov.get('step')}")
    hist = histogram_png(last.get("class_histogram"))
    return (f"<h2>Metrics</h2><p>{where}</p><table>{cells}</table><ul>{notes}</ul>"
            + (img_tag(hist, "class histogram of the samples") if hist else ""))


def histogram_png(counts: list | None) -> bytes | None:
    """The samples' predicted classes, one bar each (from the coverage metric)."""
    if not counts:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.bar(range(len(counts)), counts, color="#4477aa")
    ax.set_title("Class histogram of the samples (the bundled classifier's predictions)")
    ax.set_xlabel("class"), ax.set_ylabel("samples"), ax.grid(alpha=0.3, axis="y")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
img{max-width:100%;image-rendering:pixelated}.grids{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:300px}figcaption{text-align:center;font-size:0.85em}
.plots img{width:620px}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}
pre{background:#f5f5f5;padding:1em;overflow:auto;max-height:400px}"""
# Records how many images the browser decoded, so a headless test can check the render.
LOADED = """<script>window.addEventListener("load", () => document.body.setAttribute(
"data-images-loaded", [...document.images].filter(i => i.complete && i.naturalWidth > 0).length));
</script>"""


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    run = RunDir(Path(run_dir))
    cfg = run.saved_config()
    rows = read_stats(run.stats) if run.stats.exists() else []
    plots = [img_tag(png, title) for title, keys in PANELS + eval_panels(rows)
             if (png := curve_png(rows, keys, title)) is not None]
    last_step = rows[-1]["step"] if rows else 0
    body = [f"<h1>dfmgan run: {html.escape(run.path.name)}</h1>",
            f"<p>{html.escape(cfg.objective.name)} on {html.escape(cfg.data.name)}, "
            f"{cfg.net.size} px, step {last_step} of {cfg.steps}</p>",
            "<h2>Curves</h2><div class=plots>" + "".join(plots) + "</div>",
            grids_section(run.samples), metrics_section(run.metrics),
            f"<h2>Config</h2><pre>{html.escape(cfg.to_json())}</pre>"]
    page = (f"<!doctype html><html><head><meta charset=utf-8>{HTML_META}<title>dfmgan · "
            f"{html.escape(run.path.name)}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + LOADED + "</body></html>")
    out = Path(out) if out else run.report
    atomic_write(out, page.encode())
    return out
