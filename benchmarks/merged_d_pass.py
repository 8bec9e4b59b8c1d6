"""Issue 14's lever "one D pass for two sources": does concatenating the real and the
generated batch into one D pass (the convolutions see a batch twice as large) beat two
passes, with BatchNorm still normalising each source with its own statistics?

The merged pass runs every convolution and LeakyReLU on the (2B, C, H, W) batch and each
BatchNorm on the two halves in turn (``torch.cat([bn(real_half), bn(fake_half)])``), so
the normalisation and the running statistics are exactly the two-pass ones (real first,
then generated, as the objectives call them). The script checks that (logits, D's weight
gradients, the input gradient at G(z), running statistics; allclose), then times forward
plus backward of both ways, alternating A B A B, and prints a Markdown table.

    python benchmarks/merged_d_pass.py --threads 1 --pairs 3
    python benchmarks/merged_d_pass.py --device cuda
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dfmgan.models import Discriminator, NetConfig  # noqa: E402

# (name, size, channels, width, batch): the fashion-mnist preset's D and the 32 px one
ROWS = [("fashion-mnist preset D", 32, 1, 32, 128), ("32 px D, width 64", 32, 3, 64, 64)]


def two_passes(D: Discriminator, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    return [D(x) for x in xs]


def one_pass(D: Discriminator, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Logits of each source from one pass over their concatenation, (S·B, ...) -> S x (B,)."""
    h, s = torch.cat(xs), len(xs)
    for block in D.blocks:
        for m in block:
            h = torch.cat([m(p) for p in h.chunk(s)]) if isinstance(m, nn.BatchNorm2d) else m(h)
    return list(D.head(h).flatten().chunk(s))


def backward(D, fn, real, fake) -> None:
    D.zero_grad(set_to_none=True)
    fake.grad = None
    a, b = fn(D, [real, fake])
    (nn.functional.softplus(-a).mean() + nn.functional.softplus(b).mean()).backward()


def agree(D, real, fake) -> bool:
    """Forward, gradients (D's and at G(z)) and BatchNorm buffers, both ways, allclose."""
    d1, d2 = copy.deepcopy(D), copy.deepcopy(D)
    backward(d1, two_passes, real, fake)
    g1 = fake.grad.clone()
    backward(d2, one_pass, real, fake)
    ok = torch.allclose(g1, fake.grad, rtol=1e-4, atol=1e-6)
    for (_, p), (_, q) in zip(d1.named_parameters(), d2.named_parameters()):
        ok &= torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6)
    for (_, p), (_, q) in zip(d1.named_buffers(), d2.named_buffers()):
        ok &= torch.allclose(p.float(), q.float(), rtol=1e-5, atol=1e-7)
    return bool(ok)


def timed(D, fn, real, fake, steps: int, device: str) -> float:
    for _ in range(3):
        backward(D, fn, real, fake)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        backward(D, fn, real, fake)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--pairs", type=int, default=3, help="A B pairs per row")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.device}, {torch.get_num_threads()} threads")
    print("| D | batch per source | agree | two passes ms | one pass ms | ratio (two / one), per pair |")
    print("|---|---:|---|---:|---:|---|")
    for name, size, ch, width, batch in ROWS:
        torch.manual_seed(0)
        cfg = NetConfig(size=size, channels=ch, d_width=width, g_width=width)
        D = Discriminator(cfg).to(a.device, memory_format=torch.channels_last)
        real = torch.randn(batch, ch, size, size, device=a.device).to(memory_format=torch.channels_last)
        fake = torch.randn(batch, ch, size, size, device=a.device).to(
            memory_format=torch.channels_last).requires_grad_()
        ok = agree(D, real, fake)
        pairs = [(timed(D, two_passes, real, fake, a.steps, a.device),
                  timed(D, one_pass, real, fake, a.steps, a.device)) for _ in range(a.pairs)]
        ratios = ", ".join(f"{t / o:.2f}" for t, o in pairs)
        print(f"| {name} | {batch} | {'yes' if ok else 'NO'} | "
              f"{1000 * statistics.median(t for t, _ in pairs):.1f} | "
              f"{1000 * statistics.median(o for _, o in pairs):.1f} | {ratios} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
