"""Training throughput against the canonical DCGAN loop of the PyTorch examples, in FLOP
terms against this machine's own fp32 matrix-multiply rate.

    python benchmarks/throughput.py                 # CPU, every row
    python benchmarks/throughput.py --device cuda   # the same table on a GPU

Each row runs in its own process, so peak memory (max RSS on the CPU, max allocated on a
GPU) is that row's. FLOPs of one step (forward + backward of every conv and linear
layer) are counted by torch.utils.flop_counter; the achieved rate is FLOPs / step time.

* ours: the objective's step on an in-memory uint8 set (index, then one [-1, 1] map per
  batch), D run once per source; alternating for gan, simultaneous for dfm.
* canonical (pytorch/examples dcgan/main.py, rebuilt here because torchvision does not
  install beside this project's torch): a Dataset doing per-sample PIL -> tensor ->
  normalise, a DataLoader (2 workers), Sigmoid + BCELoss, D run three times per step
  (real, detached fake, fake), alternating updates. Same G and D modules.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

BATCH = 64  # the PyTorch example's default


def matmul_rate(device: str, n: int = 2048, reps: int = 10) -> float:
    """Best fp32 GFLOP/s of an n×n matrix product."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def nets(preset: str, loss: str, device: str, **over):
    """G, D and the objective ``loss`` of ``preset`` (its nets, its objective defaults)."""
    from dfmgan.models import Discriminator, Generator
    from dfmgan.objectives import build_objective
    from dfmgan.resolver import build_config

    from dfmgan.config import merge

    cfg = build_config(preset, overrides=merge({"objective": {"name": loss}}, over))
    G, D = Generator(cfg.net).to(device), Discriminator(cfg.net).to(device)
    return G, D, build_objective(G, D, cfg.objective, cfg.optim), cfg


def ours(preset: str, loss: str, steps: int, device: str, diagnose: bool = False, **over):
    """Our step; ``diagnose``: DFM's gradient ratio on every step, as on a logged step."""
    from dfmgan.data import to_float

    from dfmgan.training import speed

    G, D, obj, cfg = nets(preset, loss, device, **over)
    obj.diagnose = diagnose
    speed.apply(cfg.speed, obj, torch.device(device))  # as `dfmgan train` sets it up
    c, s = G.cfg.channels, G.cfg.size
    data = torch.randint(0, 256, (2048, c, s, s), dtype=torch.uint8, device=device)
    g = torch.Generator().manual_seed(0)

    def step():
        idx = torch.randint(0, len(data), (BATCH,), generator=g).to(device)
        real = speed.layout(to_float(data[idx]), cfg.speed)
        obj.step(real, G.sample_latent(BATCH, g).to(device))

    return timed(step, steps, device)


W64 = {"net": {"g_width": 64, "d_width": 64}}  # the PyTorch example's ngf = ndf = 64
R10 = {"objective": {"dfm": {"denoiser": {"depth": 10, "width": 2048}}}}
def narrow(width: int = 0, **denoiser) -> dict:
    """The fashion-mnist preset's DFM with a denoiser of ``width`` hidden units (2 layers;
    0 = n_h) and any other of its settings (``every``, ``bf16``: issue 30's levers)."""
    return {"objective": {"dfm": {"denoiser": {"width": width, **denoiser}}}}


BF16 = {"speed": {"precision": "bf16"}}  # autocast; the canonical loop stays fp32


class PerSampleSet(torch.utils.data.Dataset):
    """The example's ImageFolder + Resize/CenterCrop/ToTensor/Normalize, one image at a time."""

    def __init__(self, images: np.ndarray):
        self.images = images  # (N, H, W, 3) uint8

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        img = Image.fromarray(self.images[i]).convert("RGB")
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)  # ToTensor
        return (x - 0.5) / 0.5, 0  # Normalize((0.5,) * 3, (0.5,) * 3)


def canonical(preset: str, steps: int, device: str):
    netG, netD, _, _ = nets(preset, "gan", device, **W64)
    cfg, size = netG.cfg, netG.cfg.size
    sig, crit = nn.Sigmoid(), nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    images = np.random.default_rng(0).integers(0, 256, (2048, size, size, 3), dtype=np.uint8)
    loader = torch.utils.data.DataLoader(PerSampleSet(images), batch_size=BATCH, shuffle=True,
                                         num_workers=2, drop_last=True, persistent_workers=True)
    batches = iter(loader)

    def step():
        nonlocal batches
        try:
            real = next(batches)[0].to(device)
        except StopIteration:
            batches = iter(loader)
            real = next(batches)[0].to(device)
        netD.zero_grad()
        ones, zeros = torch.ones(BATCH, device=device), torch.zeros(BATCH, device=device)
        crit(sig(netD(real)), ones).backward()
        fake = netG(torch.randn(BATCH, cfg.nz, device=device))
        crit(sig(netD(fake.detach())), zeros).backward()
        optD.step()
        netG.zero_grad()
        crit(sig(netD(fake)), ones).backward()
        optG.step()

    return timed(step, steps, device)


def timed(step, steps: int, device: str) -> dict:
    for _ in range(2):  # warm-up (allocator, workers)
        step()
    with FlopCounterMode(display=False) as fc:
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    dt = (time.perf_counter() - t) / steps
    return {"img_s": BATCH / dt, "step_s": dt, "flops": fc.get_total_flops()}


def sampling(preset: str, device: str, n: int = 2048) -> dict:
    G, _, _, _ = nets(preset, "gan", device, **W64)
    from dfmgan.sampling import generate

    z = G.sample_latent(n)
    generate(G, z[:256], batch_size=256)
    sync(device)
    t = time.perf_counter()
    generate(G, z, batch_size=256)
    sync(device)
    return {"img_s": n / (time.perf_counter() - t), "step_s": float("nan"), "flops": float("nan")}


def fid_10k(device: str) -> dict:
    """10k generated vs 10k real images through the bundled Fashion-MNIST net, then FID."""
    from dfmgan.data import load_dataset
    from dfmgan.evaluation.features import extract, feature_net_for
    from dfmgan.evaluation.registry import MetricOptions, get_metric

    real = load_dataset("fashion-mnist", split="train", size=32, channels=1).images[:10_000]
    gen = torch.randint(0, 256, real.shape, dtype=torch.uint8)
    net = feature_net_for("fashion-mnist")
    t = time.perf_counter()
    fid = get_metric("fid")(extract(net, gen, device=device), extract(net, real, device=device),
                            MetricOptions())
    dt = time.perf_counter() - t
    return {"img_s": 20_000 / dt, "step_s": dt, "flops": float("nan"), "fid": fid["fid"]}


ROWS = {  # 32 px: the cifar10 preset's nets; 64 px: lsun-bedroom-64's at the example's width
    "gan 32 px": lambda a: ours("cifar10", "gan", a.steps, a.device, **W64),
    "dfm 32 px": lambda a: ours("cifar10", "dfm", a.steps, a.device, **W64),
    "canonical 32 px": lambda a: canonical("cifar10", a.steps, a.device),
    "gan 32 px bf16": lambda a: ours("cifar10", "gan", a.steps, a.device, **W64, **BF16),
    "dfm 32 px bf16": lambda a: ours("cifar10", "dfm", a.steps, a.device, **W64, **BF16),
    "gan 64 px": lambda a: ours("lsun-bedroom-64", "gan", max(2, a.steps // 4), a.device, **W64),
    "dfm 64 px": lambda a: ours("lsun-bedroom-64", "dfm", max(2, a.steps // 4), a.device, **W64),
    "canonical 64 px": lambda a: canonical("lsun-bedroom-64", max(2, a.steps // 4), a.device),
    "gan fashion-mnist": lambda a: ours("fashion-mnist", "gan", a.steps, a.device),
    "dfm fashion-mnist": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device),
    "gan fashion-mnist bf16": lambda a: ours("fashion-mnist", "gan", a.steps, a.device, **BF16),
    "dfm fashion-mnist bf16": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device, **BF16),
    "dfm fashion-mnist r 10×2048": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device, **R10),
    # every step a logged one: the cost of dfm/grad_ratio's two extra backward passes
    "dfm fashion-mnist diagnosed": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device, diagnose=True),
    # issue 30's cheapest lever: the denoiser's hidden width at n_h/2, /4, /8 (n_h = 2,048)
    **{f"dfm fashion-mnist r/{k}": (lambda a, k=k: ours("fashion-mnist", "dfm", a.steps, a.device,
                                                        **narrow(2048 // k))) for k in (2, 4, 8)},
    # the other levers: r trained every k-th step (G reads it on every step), r in bf16
    **{f"dfm fashion-mnist r every {k}": (lambda a, k=k: ours("fashion-mnist", "dfm", a.steps, a.device,
                                                              **narrow(every=k))) for k in (2, 4)},
    "dfm fashion-mnist r bf16": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device, **narrow(bf16=True)),
    "dfm fashion-mnist r/4 bf16": lambda a: ours("fashion-mnist", "dfm", a.steps, a.device,
                                                 **narrow(512, bf16=True)),
    "sampling 32 px": lambda a: sampling("cifar10", a.device),
    "sampling 64 px": lambda a: sampling("lsun-bedroom-64", a.device),
    "FID 10k vs 10k (bundled)": lambda a: fid_10k(a.device),
}


def child(name: str, args, queue) -> None:
    torch.manual_seed(0)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    out = ROWS[name](args)
    out["peak_mb"] = (torch.cuda.max_memory_allocated() / 2 ** 20 if args.device.startswith("cuda")
                      else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put(out)


def run_row(name: str, args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(name, args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rows", help="comma-separated subset of the row names")
    args = ap.parse_args()
    peak = matmul_rate(args.device)
    names = args.rows.split(",") if args.rows else list(ROWS)
    res = {}
    for n in names:  # each row as it finishes, so a long run shows progress
        res[n] = run_row(n, args)
        print(n, {k: round(v, 3) for k, v in res[n].items()}, flush=True)
    print(f"\ndevice {args.device}, batch {BATCH}, fp32 matmul rate {peak:.1f} GFLOP/s\n")
    print("| row | images/s | vs canonical | step ms | GFLOP/step | achieved GFLOP/s | of matmul rate | peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in res.items():
        base = res.get("canonical " + n.split(" ", 1)[1].removesuffix(" bf16")) \
            if n.startswith(("gan", "dfm")) else None  # bf16 rows: against the fp32 canonical
        ratio = f"{r['img_s'] / base['img_s']:.2f}×" if base else ""
        gf = r["flops"] / 1e9
        rate = gf / r["step_s"]
        print(f"| {n} | {r['img_s']:.1f} | {ratio} | {1e3 * r['step_s']:.0f} | {gf:.2f} | "
              f"{rate:.1f} | {100 * rate / peak:.0f}% | {r['peak_mb']:.0f} |")
    pairs = [("gan 32 px", "dfm 32 px")] + [("gan fashion-mnist", n) for n in res
                                             if n.startswith("dfm fashion-mnist") and "bf16" not in n]
    for gan, dfm in pairs:
        if gan in res and dfm in res:
            g, d = res[gan], res[dfm]
            extra_t, extra_f = d["step_s"] / g["step_s"] - 1, d["flops"] / g["flops"] - 1
            print(f"{dfm}: a step {d['step_s'] / g['step_s']:.2f}x the gan's; extra time "
                  f"{100 * extra_t:.0f}% for {100 * extra_f:.0f}% extra FLOPs "
                  f"(time/FLOP ratio {d['step_s'] / g['step_s'] / (d['flops'] / g['flops']):.2f})")

if __name__ == "__main__":
    main()
