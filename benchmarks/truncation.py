"""The truncation trick's trade-off (`dfmgan sample/eval --truncation ψ`): FID, precision and
recall against ψ, for zoo models, in their data's bundled feature space. Prints a
markdown table (the one in BENCHMARKS.md).

    python benchmarks/truncation.py                       # fashion-mnist-gan, clipart-32-dfm
    python benchmarks/truncation.py --models digits-gan --n 2000

Each row samples --n images with the same seed (so every ψ shrinks the same latents) and
scores them against one reference, whose features are computed once (a statistics file of
`dfmgan reference`)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dfmgan.evaluation.api import evaluate, save_reference  # noqa: E402
from dfmgan.snapshot import load_generator  # noqa: E402

PSIS = (1.0, 0.99, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3)  # 0.99: frozen statistics, all but untruncated


def rows_for(model: str, n: int, psis, tmp: Path) -> list[str]:
    G = load_generator(f"zoo:{model}")
    stats = tmp / f"{model}.safetensors"
    save_reference(G.meta["data"], stats, G.cfg.size, G.cfg.channels, n=n)
    out = []
    for psi in psis:
        row = evaluate(f"zoo:{model}", ["fid", "pr"], n=n, reference=str(stats), truncation=psi,
                       data=G.meta["data"])
        out.append(f"| {model} | {psi:g} | {row['fid']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} |")
        print(out[-1], flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fashion-mnist-gan,clipart-32-dfm")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--psi", default=",".join(map(str, PSIS)))
    args = p.parse_args()
    psis = [float(x) for x in args.psi.split(",")]
    lines = ["| model | ψ | FID | precision | recall |", "|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            lines += rows_for(model, args.n, psis, Path(tmp))
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
