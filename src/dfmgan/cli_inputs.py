"""A newcomer's ways in: ``import-dcgan`` (the canonical DCGAN's checkpoints), ``project``
(real images into G's latent space), ``explore`` (the latent space in a browser) and
``pack`` (a data set decoded once into a file read at memory speed). Each
parses, checks every input and output up front, and calls one function in ``tools/``."""
from __future__ import annotations

import json
from pathlib import Path

from .cli_args import SEED, add_device, add_no_ema, number
from .cli_tools import load_G
from .errors import DfmganError
from .files import atomic_write, writable_folder
from .outputs import check_free

EXAMPLES = {
    "import-dcgan": """examples:
  python main.py --dataset lsun --dataroot ... --cuda     # pytorch/examples dcgan: netG_epoch_24.pth
  dfmgan import-dcgan out/netG_epoch_24.pth --netD out/netD_epoch_24.pth --out runs/canon
  dfmgan sample runs/canon --n 64 --out grid.png           # the same z gives the same images
  dfmgan eval runs/canon --data folder --data-root ~/celeba""",
    "project": """examples:
  dfmgan project zoo:fashion-mnist-dfm fashion-mnist --split test --n 8 --out proj/
  dfmgan project runs/faces ~/my_faces/ --out proj/                # a folder of images
  dfmgan arithmetic runs/faces --latents proj/latents.npz --a 0 --b 1 --c 2 --out sum.png
  dfmgan interpolate runs/faces --latents proj/latents.npz --out walk.png""",
    "explore": """examples:
  dfmgan explore zoo:fashion-mnist-dfm            # then open http://127.0.0.1:8765/
  dfmgan explore runs/fm-cond --port 9000 --open  # a conditional G gets class buttons""",
    "pack": """examples:
  dfmgan pack ~/celeba --size 64 --channels 3 --out celeba-64.dfmpack
  dfmgan train --data celeba-64.dfmpack --preset faces-64 --out runs/faces
  dfmgan pack clipart --size 32 --channels 3 --out clipart-32.dfmpack
  dfmgan eval runs/faces --data packed --data-root celeba-64.dfmpack""",
}
PROJECT_FILES = ("latents.npz", "reconstructions.npz", "grid.png", "project.json")


def add_import_dcgan(p) -> None:
    p.add_argument("net_g", metavar="netG.pth", help="the generator's state dict "
                   "(torch.save(netG.state_dict()), as pytorch/examples' dcgan/main.py writes)")
    p.add_argument("--netD", dest="net_d", metavar="netD.pth", help="the discriminator's, "
                   "for the tools that use D (probe, visualize, project)")
    p.add_argument("--data", default="folder", help="the data it was trained on, which eval "
                   "and probe compare with unless told (default: folder)")
    p.add_argument("--out", required=True, help="a new folder for the snapshot")


def cmd_import_dcgan(args) -> int:
    from .data import dataset_info
    from .tools.import_dcgan import import_dcgan

    dataset_info(args.data)  # a misspelt name, before anything is read
    out = writable_folder(args.out)
    info = import_dcgan(Path(args.net_g), out, Path(args.net_d) if args.net_d else None, args.data)
    net = info["net"]
    print(f"wrote {out}: a {net['size']} px generator (nz {net['nz']}, N(0, 1) z, width "
          f"{net['g_width']}, {net['channels']} channel(s))"
          + (f" and its discriminator (width {net['d_width']})" if info["discriminator"] else ""))
    return 0


def add_project(p) -> None:
    from .tools.project import ProjectSettings

    d = ProjectSettings()
    p.add_argument("source", help="a run folder, zoo:NAME or a snapshot folder")
    p.add_argument("images", help="a dataset name, a folder of images, or an .npz/.npy of uint8 images")
    p.add_argument("--out", required=True, help="folder for latents.npz, reconstructions.npz, "
                   "grid.png (targets above results) and project.json")
    p.add_argument("--split", help="the dataset's split (default: its first; `test` for held-out images)")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--n", type=number(1, 10_000), default=8, help="images to project, the first N")
    p.add_argument("--steps", type=number(1, 100_000), default=d.steps, help="Adam steps")
    p.add_argument("--lr", type=number(1e-6, 10, float), default=d.lr, help="Adam's step size")
    p.add_argument("--feature-weight", type=number(0, 1e6, float), default=d.feature_weight,
                   help="weight of D's features against the pixels (0: pixels only)")
    p.add_argument("--restarts", type=number(1, 64), default=d.restarts, help="random starts per image")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the starts and of G's frozen "
                   "BatchNorm statistics: use the same --seed in interpolate and arithmetic")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)
    add_no_ema(p)


def targets(args, net) -> tuple:
    """The first --n images of IMAGES at G's size and channels: uint8 (N, C, H, W), names."""
    from .data import dataset_or_folder, load_dataset, match_channels, resize_uint8
    import torch

    from .evaluation.sources import IMAGE_FILES, load_images

    if Path(args.images).suffix.lower() in IMAGE_FILES:
        x, _ = load_images(Path(args.images))
        x = resize_uint8(match_channels(x, net.channels), net.size)
        return x[:args.n], [f"{args.images}[{i}]" for i in range(min(args.n, len(x)))]
    name, root = dataset_or_folder(args.images, args.data_root)
    source = load_dataset(name, root, args.split, net.size, net.channels)
    images = source.images if hasattr(source, "images") else \
        source.get(torch.arange(min(args.n, len(source))))[0]
    names = getattr(source, "names", None) or [f"{name}[{i}]" for i in range(len(images))]
    return images[:args.n], names[:args.n]


def cmd_project(args) -> int:
    import numpy as np

    from .imageio import grid_array, save_images, save_npz, save_png, to_pil
    from .snapshot import load_discriminator
    from .tools.project import ProjectSettings, project, summary

    out = writable_folder(args.out)
    if out.exists():
        check_free(out, PROJECT_FILES)
    G = load_G(args)
    if G.cfg.n_classes:
        raise DfmganError("project needs an unconditional generator (this one is conditional)")
    D = load_discriminator(args.source, args.device)[0] if args.feature_weight else None
    x, names = targets(args, G.cfg)
    s = ProjectSettings(args.steps, args.lr, args.feature_weight, args.restarts, args.seed)
    p = project(G, D, x.to(args.device), s, progress=not args.no_progress)
    out.mkdir(parents=True, exist_ok=True)
    save_npz(out / "latents.npz", z=p.z.cpu().numpy().astype(np.float32), loss=p.loss.cpu().numpy(),
             names=np.array(names), bn_seed=np.int64(args.seed))
    save_images(p.images.cpu(), out / "reconstructions.npz")
    pairs = torch_rows(x.cpu(), p.images.cpu(), 8)
    save_png(to_pil(grid_array(pairs, min(8, len(x))), 3), out / "grid.png")
    atomic_write(out / "project.json", json.dumps(summary(p, s, names), indent=2).encode())
    print(f"projected {len(x)} images: pixel MSE {p.pixel_mse.mean():.4f} (random starts "
          f"{p.start_mse.mean():.4f}); wrote {', '.join(str(out / f) for f in PROJECT_FILES)}")
    return 0


def torch_rows(a, b, cols: int):
    """Rows of ``cols`` targets, each followed by the row of their results."""
    import torch

    rows = []
    for i in range(0, len(a), cols):
        ra, rb = a[i:i + cols], b[i:i + cols]
        if len(ra) < cols and len(a) > cols:  # a short last pair of rows, padded white
            pad = torch.full((cols - len(ra), *ra.shape[1:]), 255, dtype=torch.uint8)
            ra, rb = torch.cat([ra, pad]), torch.cat([rb, pad])
        rows += [ra, rb]
    return torch.cat(rows)


def add_explore(p) -> None:
    from .tools.explore import LOOPBACK

    p.add_argument("source", help="a run folder, zoo:NAME or a snapshot folder")
    p.add_argument("--port", type=number(0, 65_535), default=8765, help="0: any free port")
    p.add_argument("--host", choices=LOOPBACK, default="127.0.0.1",
                   help="the loopback address to serve on (never another)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the frozen BatchNorm "
                   "statistics and of the neighbours' noise (as in arithmetic)")
    add_device(p)
    add_no_ema(p)


def request_bar(file=None):
    """The explorer's count of answered requests: a count and the time since start, no
    rate (requests come when a person clicks) and no unit to pluralise."""
    from tqdm import tqdm

    return tqdm(desc="explore", total=None, file=file,
                bar_format="{desc}: requests answered: {n_fmt} [{elapsed}]")


def cmd_explore(args) -> int:
    from .tools.explore import Explorer, serve

    G = load_G(args)
    bar: list = []  # the count of requests, opened once the port is bound (a busy port: one line)
    server = serve(Explorer(G, Path(args.source).name, args.seed), args.host, args.port,
                   lambda: bar and bar[0].update())
    served = request_bar()
    bar.append(served)
    host, port = server.server_address[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    served.write(f"serving {Path(args.source).name} on {url} (Ctrl-C stops)")
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        served.close()
    return 0


def add_pack(p) -> None:
    from .data import FITS
    from .models.netconfig import SIZES

    p.add_argument("source", help="a data set name (any loader) or a folder of images")
    p.add_argument("--size", type=int, choices=SIZES, required=True, help="training resolution, px")
    p.add_argument("--channels", type=int, choices=(1, 3), required=True, help="1 (grey) or 3 (RGB)")
    p.add_argument("--out", required=True, help="the packed file to write, NAME.dfmpack")
    p.add_argument("--data-root", help="where the data set's files are")
    p.add_argument("--split", help="the loader's split (default: its first)")
    p.add_argument("--fit", choices=FITS, help="image files: crop or pad (default: the data's)")
    p.add_argument("--background", default="white", help="transparent pixels and pad's margins")
    p.add_argument("--skip-bad", action="store_true", help="leave unreadable files out")
    p.add_argument("--workers", type=number(1, 256), help="decoding processes (default: one per core)")
    p.add_argument("--chunk", type=number(1, 10 ** 6), default=4096,
                   help="images per chunk: the unit of work, progress and resume (default 4096)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_pack(args) -> int:
    from .data import ImageOptions
    from .tools.pack import pack

    opts = ImageOptions(args.fit or "", args.background, args.skip_bad)
    m = pack(args.source, Path(args.out), args.size, args.channels, args.data_root, args.split,
             opts, args.workers, not args.no_progress, args.chunk)
    mb = m["n"] * m["channels"] * m["size"] ** 2 / 2 ** 20
    print(f"packed {m['n']:,} images, {m['channels']}x{m['size']}x{m['size']} ({mb:,.1f} MiB), "
          f"into {args.out}; train with --data {args.out}")
    return 0


INPUTS = {
    "import-dcgan": ("the canonical DCGAN's netG/netD .pth (pytorch/examples) as a dfmgan "
                     "snapshot", add_import_dcgan, cmd_import_dcgan),
    "project": ("real images into G's latent space (Adam on z; pixels + D's features)",
                add_project, cmd_project),
    "explore": ("G's latent space in the browser: samples, A - B + C, walks (loopback only)",
                add_explore, cmd_explore),
    "pack": ("decode a data set once into one file, read at memory speed when training",
             add_pack, cmd_pack),
}
