"""The DCGAN paper's analyses as subcommands: probe, interpolate, arithmetic, ablate,
visualize, dedup. Each parses, loads a snapshot or data, and calls one function in
``tools/``."""
from __future__ import annotations

from pathlib import Path

from .cli_args import LABEL, LAYER, SEED, add_device, add_no_ema, budgets, count_or_all, indices, number
from .errors import DfmganError
from .files import writable_file, writable_folder
from .layout import RunLayout

EXAMPLES = {
    "probe": """examples:
  dfmgan probe runs/fm --labels 100,all            # trained D vs random D, pixels, k-means
  dfmgan probe runs/fm --baselines random-d,pixels --draws 10
  dfmgan probe runs/c10 --data cifar10 --data-root ~/data/cifar-10-python.tar.gz""",
    "interpolate": """examples:
  dfmgan interpolate runs/fm --points 9 --steps 10 --out walk.png   # + walk-lerp.gif, walk-slerp.gif
  dfmgan interpolate runs/fm --mode slerp --out walk.png""",
    "arithmetic": """examples:
  dfmgan sample runs/faces --n 64 --seed 0 --numbered --out sheet.png   # pick exemplars here
  dfmgan arithmetic runs/faces --a 3,17,40 --b 5,9,22 --c 1,30,51 --out smiling_man.png
  dfmgan arithmetic runs/faces --turn --a 3,17,40 --b 5,9,22 --base 1,2,3,4 --out turn.png""",
    "ablate": """examples:
  dfmgan sample runs/bedrooms --n 64 --seed 0 --numbered --out sheet.png
  dfmgan ablate runs/bedrooms --boxes windows.json --out forget.png
boxes: {"SHEET INDEX": [[x0, y0, x1, y1], ...]} in pixels; or --masks FILE.npz with
`indices` (M,) and `masks` (M, H, W) bool""",
    "visualize": """examples:
  dfmgan visualize runs/fm --layer -1 --units 8 --out features.png""",
    "dedup": """examples:
  dfmgan dedup fashion-mnist --out runs/dedup_fm             # groups.json/.csv, contact_sheet.png
  dfmgan dedup ~/photos --out runs/dedup_photos --index --copy ~/photos_dedup
  dfmgan dedup lsun --data-root bedroom_train_lmdb --out runs/dedup_lsun --radius 2
DATA is a dataset name (see dfmgan train --help) or a folder of images.""",
}


def common(p) -> None:
    """What every analysis tool takes: a snapshot, a seed, a device, EMA or raw G."""
    p.add_argument("source", help="a run folder, zoo:NAME or a snapshot")
    p.add_argument("--seed", type=SEED, default=0, help="seed of every random draw")
    add_device(p)
    add_no_ema(p)


def add_sheet(p) -> None:
    p.add_argument("--sheet-n", type=number(1, 10_000), default=64, help="the numbered sheet's --n (default 64)")
    p.add_argument("--sheet-seed", type=SEED, default=0, help="the sheet's --seed (default 0)")
    p.add_argument("--label", type=LABEL, help="class to draw, for a conditional generator")


def add_probe(p) -> None:
    common(p)
    p.add_argument("--data", help="labelled dataset (default: the run's)")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--labels", default="100,all", help="budgets: N per class and/or all (default 100,all)")
    p.add_argument("--draws", type=number(1, 1_000), default=5, help="draws per N-per-class budget (default 5)")
    p.add_argument("--baselines", default="random-d,pixels,kmeans",
                   help="any of random-d, pixels, kmeans (default: all three)")
    p.add_argument("--kmeans-k", type=number(1, 100_000), default=1600, help="K-means centroids (default 1600)")
    p.add_argument("--out", help="JSON file to write (default: RUN/probe.json)")


def add_baselines(p) -> None:
    from .tools.baselines import BASELINES

    p.add_argument("source", help="a run folder, zoo:NAME or a discriminator snapshot")
    add_device(p)
    p.add_argument("--data", help="labelled dataset (default: the run's)")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help=f"any of {', '.join(BASELINES)} (default: all)")
    p.add_argument("--n-real", type=count_or_all(10, 10 ** 7),
                   help="labelled fit pool, or all: the whole training split (default: the "
                   "run's eval_n, else 5000)")
    p.add_argument("--labels", type=budgets, default=[10, 100, 400],
                   help="label budgets: counts per class and/or all, every label of the pool "
                   "(default 10,100,400)")
    p.add_argument("--seed", type=SEED,
                   help="the run seed whose fit pool to draw (default: the run's own, as its "
                   "evaluator drew it)")
    p.add_argument("--out", help="JSON file to write (default: RUN/baselines.json)")


def add_latents(p, what: str) -> None:
    p.add_argument("--latents", metavar="FILE.npz", help="latents of `dfmgan project` (its "
                   f"latents.npz; any .npz with z (N, nz)): {what}")


def add_interpolate(p) -> None:
    common(p)
    p.add_argument("--points", type=number(2, 1_000), default=6, help="random latent points (default 6)")
    add_latents(p, "walk through them in order instead of random points")
    p.add_argument("--steps", type=number(2, 1_000), default=10, help="images per segment (default 10)")
    p.add_argument("--mode", choices=["lerp", "slerp", "both"], default="both",
                   help="straight lines or great circles between the points, or both")
    p.add_argument("--label", type=LABEL, help="class to draw, for a conditional generator")
    p.add_argument("--out", required=True, help="grid .png (GIFs are written beside it)")


def add_arithmetic(p) -> None:
    common(p)
    add_sheet(p)
    add_latents(p, "--a, --b and --c index them instead of the sheet")
    for k in "abc":
        p.add_argument(f"--{k}", type=indices, help=f"sheet indices of concept {k.upper()}")
    p.add_argument("--turn", action="store_true", help="interpolate along mean(B) − mean(A)")
    p.add_argument("--base", type=indices, help="--turn: sheet indices to move (default: --a)")
    p.add_argument("--steps", type=number(2, 1_000), default=10, help="--turn: images per row (default 10)")
    p.add_argument("--out", required=True, help="figure .png")


def add_ablate(p) -> None:
    common(p)
    add_sheet(p)
    p.add_argument("--boxes", help="JSON: sheet index -> boxes [x0, y0, x1, y1], whole "
                   "pixels, x1 and y1 exclusive, inside the image")
    p.add_argument("--masks", help=".npz with indices (M,) integers and masks (M, H, W) of "
                   "booleans or 0/1")
    p.add_argument("--layer", type=LAYER, default=-2, help="G's hidden layer (default -2, the "
                   "second highest, as in the paper)")
    p.add_argument("--n", type=number(1, 10_000), default=8, help="new samples to draw both ways (default 8)")
    p.add_argument("--out", required=True, help="figure .png (+ .json of dropped maps)")


def add_visualize(p) -> None:
    common(p)
    p.add_argument("--data", help="images to search for top activations (default: the run's)")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--layer", type=LAYER, default=-1, help="D's conv layer (default -1, the last)")
    p.add_argument("--units", type=number(1, 4_096), default=8, help="top units to show (default 8)")
    p.add_argument("--n", type=number(1, 1_000_000), default=2000, help="images searched (default 2000)")
    p.add_argument("--out", required=True, help="figure .png")


def add_dedup(p) -> None:
    from .tools.dedup import DedupSettings

    d = DedupSettings()
    p.add_argument("data", help="dataset name or image folder")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--split", help="the loader's split (default: its first, e.g. train)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--steps", type=number(1, 10 ** 8), default=d.steps, help=f"autoencoder steps (default {d.steps})")
    p.add_argument("--noise", type=number(0, 100, float), default=d.noise,
                   help=f"σ of the input corruption, pixels in [-1, 1] (default {d.noise})")
    p.add_argument("--dropout", type=number(0, 0.99, float), default=d.dropout, help=f"on the code (default {d.dropout})")
    p.add_argument("--radius", type=number(0, 64), default=d.radius,
                   help="also group hashes up to this many bits from a group's first "
                   "(default 0: identical only)")
    p.add_argument("--index", action="store_true", help="write kept.txt, the filtered index")
    p.add_argument("--copy", help="copy the kept images into this new folder")
    p.add_argument("--seed", type=SEED, default=0, help="seed of every random draw")
    add_device(p)



def cmd_probe(args) -> int:
    from .tools.probe import run_probe

    out = writable_file(args.out if args.out else RunLayout(args.source).probe, "probe")
    rows, text = run_probe(args.source, args.data, args.data_root, args.labels, args.draws,
                           args.baselines, args.kmeans_k, args.seed, args.device, out)
    print(text)
    print(f"(written to {out})")
    return 0


def cmd_baselines(args) -> int:
    from .tools.baselines import parse_names, run_baselines, table

    names = parse_names(args.baselines)
    out = writable_file(args.out if args.out else RunLayout(args.source).baselines, "baselines")
    rows = run_baselines(args.source, names, args.data, args.data_root, args.n_real,
                         args.seed, args.device, out, budgets=args.labels)
    print(table(rows, args.labels))
    print(f"(written to {out})")
    return 0


def load_G(args):
    from .snapshot import load_generator

    return load_generator(args.source, device=args.device, ema=args.ema).net


def cmd_interpolate(args) -> int:
    from .tools.latent_figures import interpolate_figure

    modes = ["lerp", "slerp"] if args.mode == "both" else [args.mode]
    G = load_G(args)
    points = read_latents(args.latents, G, least=2) if args.latents else args.points
    out = png_path(args.out, tuple(f"-{m}.gif" for m in modes))
    paths = interpolate_figure(G, points, args.steps, modes, args.seed, out, args.label)
    print("wrote " + ", ".join(map(str, paths)))
    return 0


def read_latents(path: str, G, least: int = 1):
    """z (N, nz) float32 from an .npz (``project``'s latents.npz), checked against G."""
    import numpy as np
    import torch

    from .reading import regular

    try:
        with np.load(regular(path, "--latents"), allow_pickle=False) as f:
            z = f["z"] if "z" in f.files else None
    except (OSError, ValueError, EOFError) as e:
        raise DfmganError(f"cannot read --latents {path}: {' '.join(str(e).split())[:200]}") from None
    nz = G.cfg.nz
    if z is None or z.ndim != 2 or z.shape[1] != nz or len(z) < least or z.dtype.kind != "f":
        got = "no array z" if z is None else f"z of shape {z.shape} ({z.dtype})"
        raise DfmganError(f"--latents {path}: expected z (N >= {least}, {nz}) floats for this "
                          f"generator, got {got}")
    from .sampling import latent_problem

    if latent_problem(z):
        raise DfmganError(f"--latents {path}: {latent_problem(z)}")
    return torch.from_numpy(z.astype(np.float32))


def png_path(out: str, beside: tuple[str, ...] = ()) -> Path:
    """--out, a figure .png, and the files written beside it (``beside``: suffixes after
    its stem, "-lerp.gif"), each checked by the output policy before any work."""
    if not out.lower().endswith(".png"):
        raise DfmganError(f"--out {out}: the figure is a .png")
    path = Path(out)
    for side in beside:
        writable_file(path.with_name(path.stem + side))
    writable_file(out).parent.mkdir(parents=True, exist_ok=True)
    return path


def cmd_arithmetic(args) -> int:
    from .tools.latent import sheet_latents
    from .tools.latent_figures import arithmetic_figure, turn_figure

    G = load_G(args)
    sheet = read_latents(args.latents, G) if args.latents else \
        sheet_latents(G, args.sheet_n, args.sheet_seed)
    need = "a, --b" if args.turn else "a, --b and --c"
    if args.a is None or args.b is None or (not args.turn and args.c is None):
        raise DfmganError(f"give --{need} (indices on the sheet of dfmgan sample --numbered)")
    if args.turn:
        path = turn_figure(G, sheet, args.a, args.b, args.base or args.a, args.steps,
                           png_path(args.out), args.seed, args.label)
    else:
        path = arithmetic_figure(G, sheet, args.a, args.b, args.c, png_path(args.out),
                                 args.seed, args.label)
    print(f"wrote {path}")
    return 0


def read_marks(args, size: int):
    """(sheet indices, masks (M, size, size) bool) from --boxes or --masks, checked against
    the sheet and the generator before any work."""
    from .tools.ablate import boxes_to_masks, check_marks

    if bool(args.boxes) == bool(args.masks):
        raise DfmganError("give --boxes FILE.json or --masks FILE.npz")
    try:
        from .reading import parse_json, regular

        regular(args.boxes or args.masks, "--boxes" if args.boxes else "--masks")
        if args.boxes:
            marks = boxes_to_masks(parse_json(Path(args.boxes).read_text()), size)
        else:
            marks = read_mask_file(args.masks)
        check_marks(*marks, args.sheet_n, size)
        return marks
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DfmganError(f"cannot read marks from {args.boxes or args.masks}: {e}") from None


def read_mask_file(path: str):
    """indices (M,) integers and masks (M, H, W) of booleans or 0/1 numbers, from an .npz."""
    import numpy as np
    import torch

    with np.load(path, allow_pickle=False) as f:
        indices, masks = f["indices"], f["masks"]
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(f"indices must be whole numbers, one per mask, got {indices.dtype} {indices.shape}")
    if masks.ndim != 3 or masks.dtype.kind not in "biuf" or not np.isin(masks, (0, 1)).all():
        raise ValueError(f"masks must be (M, H, W) of booleans or 0/1, got {masks.dtype} {masks.shape}")
    return indices.tolist(), torch.from_numpy(masks.astype(bool))


def cmd_ablate(args) -> int:
    import torch

    from .tools.ablate import ablate_figure
    from .tools.latent import sheet_latents

    G = load_G(args)
    marks = read_marks(args, G.cfg.size)
    z = G.sample_latent(args.n, torch.Generator().manual_seed(args.seed + 1))
    concept = ablate_figure(G, sheet_latents(G, args.sheet_n, args.sheet_seed), marks,
                            args.layer, z, png_path(args.out, (".json",)), args.seed, args.label)
    print(f"dropped {len(concept.dropped)} of {concept.n_channels} maps "
          f"(fit on {concept.n_positive} + {concept.n_negative} locations, "
          f"train accuracy {concept.train_accuracy:.3f}); wrote {args.out}")
    return 0


def cmd_visualize(args) -> int:
    from .tools.guided import run_visualize

    print(f"wrote {run_visualize(args.source, args.data, args.data_root, args.layer, args.units, args.n, args.seed, png_path(args.out))}")
    return 0


def cmd_dedup(args) -> int:
    from .tools.dedup import DedupSettings
    from .tools.dedup_report import run_dedup

    s = DedupSettings(steps=args.steps, noise=args.noise, dropout=args.dropout,
                      radius=args.radius, seed=args.seed)
    out = writable_folder(args.out)
    if args.copy:
        writable_folder(args.copy)
    h = run_dedup(args.data, args.data_root, args.split, s, out, args.index,
                  Path(args.copy) if args.copy else None, args.device)
    print(f"{h['description']}: {h['groups_found']:,} duplicate groups, {h['images_removed']:,} "
          f"images to drop; hashed {h['hash_images_per_s']:,.0f} images/s; wrote {out}"
          + (f"; copied {h['copied']:,} kept images to {args.copy}" if "copied" in h else ""))
    return 0


# name -> (one line for `dfmgan --help`, what adds its flags, what runs it)
TOOLS = {
    "probe": ("D's features + L2-SVM against baselines (DCGAN §5)", add_probe, cmd_probe),
    "baselines": ("the probe metric's baselines, cached: k-means, random D, pixels, "
                  "supervised CNN", add_baselines, cmd_baselines),
    "interpolate": ("walks in latent space, lerp and slerp (DCGAN Fig. 4)", add_interpolate,
                    cmd_interpolate),
    "arithmetic": ("vector arithmetic on averaged z (DCGAN Figs. 7, 8)", add_arithmetic,
                   cmd_arithmetic),
    "ablate": ("forget a concept by dropping G's feature maps (DCGAN §6.3.1)", add_ablate,
               cmd_ablate),
    "visualize": ("guided backprop of D's top units vs a random D (DCGAN Fig. 5)", add_visualize,
                  cmd_visualize),
    "dedup": ("near-duplicate groups by a 128-bit autoencoder hash (DCGAN §4.1.1)", add_dedup,
              cmd_dedup),
}
