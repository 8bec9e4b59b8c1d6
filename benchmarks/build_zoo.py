"""Write a model of dfmgan's zoo (``src/dfmgan/zoo/NAME/``) from a finished run, score it
and record its checksums in the zoo's index.json; then print the zoo's table.

    python benchmarks/build_zoo.py fashion-mnist-gan benchmarks/results/study-probe-fm/gan-s0

The model's folder holds the run's config.json, its generator (the EMA of G when the run
kept one, as generator.safetensors: the weights its scores describe), its discriminator,
metrics.jsonl (a fresh `dfmgan eval` of exactly these files: 10,000 samples, the data's
bundled feature space) and README.md, its model card. What each model is, how it was
trained and under what terms its data come is in MODELS below."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dfmgan import zoo  # noqa: E402
from dfmgan.digests import file_sha256  # noqa: E402
from dfmgan.cli import main as dfmgan  # noqa: E402
from dfmgan.layout import DISCRIMINATOR, GENERATOR, GENERATOR_EMA, RunLayout  # noqa: E402

FM = "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; © Zalando SE, MIT licence), Debian's dataset-fashion-mnist"
CLIPART = ("Debian's openclipart-png (public domain) and the Noto colour emoji font "
           "(fonts-noto-color-emoji, SIL OFL 1.1), dfmgan's `clipart` set")
DIGITS = ("scikit-learn's copy of the UCI optical-recognition digits (Alpaydin & Kaynak 1998, "
          "CC BY 4.0), 8×8 upsampled to 28×28")

# name -> what it is, the command that trains it, its data and their terms
MODELS = {
    "fashion-mnist-gan": dict(
        description="DCGAN, non-saturating loss",
        command="dfmgan study benchmarks/studies/probe-fm.yaml --out STUDY   # its gan-s0 run; alone:\n"
                "dfmgan train --preset fashion-mnist --steps 10000 --seed 0 --eval-every 1000 "
                "--eval-n 5000 --out runs/fm-gan",
        data=FM),
    "fashion-mnist-dfm": dict(
        description="DCGAN + denoising feature matching (λ ×1,000)",
        command="dfmgan study benchmarks/studies/probe-fm.yaml --out STUDY   # its dfm-s0 run; alone:\n"
                "dfmgan train --preset fashion-mnist --objective dfm --steps 10000 --seed 0 "
                "--eval-every 1000 --eval-n 5000 --out runs/fm-dfm",
        data=FM),
    "digits-gan": dict(
        description="the demo (make demo): DCGAN on scikit-learn's digits",
        command="dfmgan train --preset digits --out runs/demo   # what `make demo` runs",
        data=DIGITS),
    "clipart-32-gan": dict(
        description="DCGAN on colour clip art and emoji",
        command="dfmgan study benchmarks/studies/clipart-32.yaml --out STUDY   # its gan-s0 run",
        data=CLIPART),
    "clipart-32-dfm": dict(
        description="DCGAN + DFM (λ ×1,000) on colour clip art and emoji",
        command="dfmgan study benchmarks/studies/clipart-32.yaml --out STUDY   # its dfm-s0 run",
        data=CLIPART),
}
LICENCE = "MIT (the weights, as dfmgan's code); mind the training data's own terms below"


def copy_run(run: RunLayout, folder: Path) -> str:
    """The files a zoo model holds, from ``run``; which generator it took."""
    g = GENERATOR_EMA if (run.path / GENERATOR_EMA).exists() else GENERATOR
    pairs = [("config.json", "config.json"), (g, GENERATOR), (DISCRIMINATOR, DISCRIMINATOR)]
    for src, dst in pairs:
        for suffix in ((".safetensors", ".json") if src.endswith(".safetensors") else ("",)):
            a, b = src.replace(".safetensors", suffix), dst.replace(".safetensors", suffix)
            shutil.copyfile(run.path / a, folder / b)
    return g


def card(folder: Path, name: str, weights: str, spec: dict) -> str:
    from dfmgan.tools.export import card as export_card

    text = export_card(RunLayout(folder), GENERATOR, LICENCE)
    if weights == GENERATOR_EMA:
        text = text.replace("| weights | G as trained |", "| weights | the EMA of G that the run kept |")
    text = text.replace("# dfmgan generator:", f"# zoo:{name}, a dfmgan model:", 1)
    text = text.replace('load_generator("generator.safetensors")', f'load_generator("zoo:{name}")')
    extra = ["## Try it", "", "```sh", f"dfmgan sample zoo:{name} --n 64 --out grid.png",
             f"dfmgan interpolate zoo:{name} --out walk.png",
             f"dfmgan probe zoo:{name} --out probe.json   # D's features, linear probe", "```", "",
             "## Trained with", "", "```sh", spec["command"], "```", "",
             "## Data", "", spec["data"], ""]
    head, _, tail = text.partition("## Use")
    return head + "\n".join(extra) + "\n## Use" + tail


def build(name: str, run_dir: Path) -> dict:
    spec, run = MODELS[name], RunLayout(run_dir)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        weights = copy_run(run, folder)
        if dfmgan(["eval", str(folder), "--n", "10000", "--metrics", "fid,kid,pr",
                   "--out", str(folder / "metrics.jsonl")]):
            raise SystemExit(f"eval of {name} failed")
        row = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
        row["provenance"].update(source=f"zoo:{name}")  # not the temporary folder's path
        row["provenance"].pop("seconds", None)  # this machine's, at build time
        (folder / "metrics.jsonl").write_text(json.dumps(row) + "\n")
        (folder / "README.md").write_text(card(folder, name, weights, spec))
        net = json.loads((folder / "generator.json").read_text())
        entry = {"description": spec["description"], "data": net["data"],
                 "objective": net["objective"], "size": net["net"]["size"],
                 "channels": net["net"]["channels"], "steps": net["step"],
                 "metrics": {k: row[k] for k in ("fid", "kid", "precision", "recall") if k in row},
                 "files": {p.name: file_sha256(p) for p in sorted(folder.iterdir())}}
        target = zoo.ROOT / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(folder, target)
    return entry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(MODELS))
    p.add_argument("run", type=Path, help="the finished run folder")
    args = p.parse_args()
    index = zoo.entries()
    index[args.name] = build(args.name, args.run)
    (zoo.ROOT / zoo.INDEX).write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    print(zoo.listing())


if __name__ == "__main__":
    main()
