"""``dfmgan export RUN --out DIR``: a generator to share. DIR holds the snapshot (the EMA
generator when the run kept one; its config also inside the safetensors metadata, so the
one file loads) and a ``README.md`` model card: architecture, objective, data, training
budget, the last metrics with their provenance, the licence, and the two papers to cite."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import DfmganError
from ..files import atomic_write, parameter_count, read_snapshot_info
from ..layout import GENERATOR, GENERATOR_EMA, RunLayout

CITATIONS = """```bibtex
@inproceedings{radford2016dcgan,
  title     = {Unsupervised Representation Learning with Deep Convolutional Generative
               Adversarial Networks},
  author    = {Radford, Alec and Metz, Luke and Chintala, Soumith},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2016}
}
@inproceedings{wardefarley2017dfm,
  title     = {Improving Generative Adversarial Networks with Denoising Feature Matching},
  author    = {Warde-Farley, David and Bengio, Yoshua},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2017}
}
```"""


def last_metrics(run: RunLayout) -> tuple[dict, str]:
    """The newest scores and where they come from: `dfmgan eval` rows first, else the
    evaluation during training that kept RUN/best."""
    from ..training.stats import read_stats

    if run.metrics.exists() and (rows := read_stats(run.metrics)):
        return rows[-1], "the last `dfmgan eval` row (metrics.jsonl)"
    if run.best_record.exists():
        return json.loads(run.best_record.read_text()), "the best evaluation during training (best/best.json)"
    return {}, ""


def card(run: RunLayout, name: str, licence: str) -> str:
    from ..training.rundir import RunDir

    cfg = RunDir(run.path).saved_config()
    _, net, meta = read_snapshot_info(run.path / name)
    scores, source = last_metrics(run)
    images = meta.get("step", 0) * cfg.batch_size
    lines = [f"# dfmgan generator: {cfg.objective.name} on {cfg.data.name}", "",
             "| | |", "|---|---|",
             f"| architecture | DCGAN generator, {net.size}×{net.size} px, {net.channels} channel(s), "
             f"{net.nz}-d {net.latent} z, width {net.g_width}; "
             f"{parameter_count(run.path / name):,} parameters |",
             f"| objective | {cfg.objective.name} ({cfg.objective.scheme} updates, "
             f"{cfg.objective.adversarial} loss), Adam lr {cfg.optim.lr:g}, β1 {cfg.optim.beta1:g} |",
             f"| data | {cfg.data.name}" + (f" (preset {cfg.preset})" if cfg.preset else "") + " |",
             f"| training budget | {meta.get('step', 0):,} steps of batch {cfg.batch_size} "
             f"({images:,} images), seed {cfg.seed} |",
             f"| weights | {'EMA of G, half-life ' + format(cfg.ema, ',g') + ' images' if name == GENERATOR_EMA else 'G as trained'} |",
             f"| licence | {licence} |", ""]
    lines += metrics_section(scores, source)
    lines += ["## Use", "", "```python", "from dfmgan import load_generator",
              f'G = load_generator("{name}")  # the config is inside the file', "images = G.sample(16, seed=0)  # uint8 (16, C, H, W)",
              "```", "", "## Cite", "", CITATIONS, ""]
    return "\n".join(lines)


def metrics_section(scores: dict, source: str) -> list[str]:
    if not scores:
        return ["## Metrics", "", "None recorded: run `dfmgan eval RUN` before exporting.", ""]
    values = {k: v for k, v in scores.items() if isinstance(v, float)}
    where = scores.get("provenance") or {k: v for k, v in scores.items()
                                         if not isinstance(v, (float, list, dict))}
    return (["## Metrics", "", f"From {source}.", "", "| metric | value |", "|---|---|"]
            + [f"| {k} | {v:.4g} |" for k, v in values.items()]
            + ["", "Provenance: " + ", ".join(f"{k} = {v}" for k, v in where.items()), ""])


def export(run_dir: Path, out: Path, licence: str = "unspecified", ema: bool = True) -> Path:
    run = RunLayout(run_dir)
    if not run.config_path.exists():
        raise DfmganError(f"{run_dir} is not a dfmgan run (no config.json)")
    name = GENERATOR_EMA if ema and (run.path / GENERATOR_EMA).exists() else GENERATOR
    text = card(run, name, licence)  # reads (and checks) everything before writing
    out.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(run.path / name.replace(".safetensors", suffix),
                        out / GENERATOR.replace(".safetensors", suffix))
    atomic_write(out / "README.md", text.replace(f'"{name}"', f'"{GENERATOR}"').encode())
    return out
