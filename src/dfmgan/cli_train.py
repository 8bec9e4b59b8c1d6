"""``dfmgan train``: its flags (every one with help and its default) and the command,
which hands them to the resolver (``resolver.py``) and calls the loop."""
from __future__ import annotations

import sys
from pathlib import Path

from .cli_args import add_device, device, number
from .config import PRECISIONS, TrainConfig, flatten
from .resolver import FLAG_KEYS
from .models.netconfig import BN_MODES, LATENTS
from .errors import DfmganError
from .layout import RunLayout
from .files import writable_folder

def device_name(text: str) -> str:
    """--device for a command that hands it on (train, study): checked, kept as written."""
    device(text)
    return text


# train's numeric flags: (flag, type, what it sets); defaults come from TrainConfig
TRAIN_NUMBERS = [
    ("--steps", int, "training steps"),
    ("--epochs", float, "passes over the data, instead of --steps"),
    ("--batch-size", int, "images per step, over all processes"),
    ("--seed", int, "seed of the init, the data order and the latents"),
    ("--lr", float, "Adam's learning rate, every network"),
    ("--size", int, "image size in px: 28, 32, 48, 64, 96 or 128"),
    ("--channels", int, "1 (grey) or 3 (RGB)"),
    ("--g-width", int, "channels of G's last hidden layer (doubling towards z)"),
    ("--d-width", int, "channels of D's first layer (doubling with depth)"),
    ("--sample-every", int, "steps between sample grids"),
    ("--checkpoint-every", int, "steps between checkpoints"),
    ("--keep", int, "checkpoints kept on disk"),
    ("--log-every", int, "steps between stats rows flushed and the bar's update"),
    ("--eval-every", int, "steps between evaluations (FID, or modes on stacked-*); 0 = none"),
    ("--eval-n", int, "samples (and real images) per evaluation"),
]


def add_model_flags(p) -> None:
    """What is trained: the objective, its update scheme and adversarial loss, D's
    normalisation, the latent and the classes."""
    from .objectives import OBJECTIVES
    p.add_argument("--objective", choices=sorted(OBJECTIVES), help="; ".join(
        f"{k}: {c.summary}" for k, c in OBJECTIVES.items()))
    from .objectives.base import SCHEMES
    p.add_argument("--scheme", choices=SCHEMES, help="alternating: D, then "
                   "G against the updated D (DCGAN); simultaneous: every network steps on the same "
                   "parameters (DFM) (default: the objective's)")
    from .objectives.adversarial import ADVERSARIAL
    p.add_argument("--adversarial", choices=sorted(ADVERSARIAL), help="D's loss and G's "
                   "adversarial term; DFM and FM add to any: " + "; ".join(
                       f"{k}: {(c.__doc__ or '').split(':')[0].strip()}" for k, c in ADVERSARIAL.items())
                   + " (default: non-saturating). With hinge, try --d-norm spectral")
    from .models.d_norms import registered

    norms = registered()
    p.add_argument("--d-norm", choices=sorted(norms), help="D's normalisation: " + "; ".join(
        f"{k}: {c.summary}" for k, c in norms.items()) + " (default: batch)")
    p.add_argument("--augment", metavar="POLICIES", help="DiffAugment (Zhao et al. 2020) before "
                   "every D pass, real and generated: any of color,translation,cutout "
                   "(default: off)")
    from .regularizers import TERMS, names

    for name in names():  # D-side terms, each one file of regularizers/
        p.add_argument(f"--{name}", type=float, metavar="GAMMA",
                       help=f"{TERMS[name].summary}; composes with every objective and family (default: 0, off)")
    p.add_argument("--reg-every", type=int, metavar="K", help="lazy D-side terms: computed on "
                   "every K-th D step and weighted by K (StyleGAN2) (default: 1, every step)")
    p.add_argument("--latent", choices=LATENTS,
                   help="z's distribution: uniform in [-1, 1] (DCGAN) or normal (default: uniform)")
    p.add_argument("--classes", type=int, metavar="K",
                   help="conditional DCGAN on K classes (the label enters G and D)")


def add_train(p) -> None:
    from .presets import PRESETS
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named setup from the papers")
    p.add_argument("--config", metavar="FILE", help="YAML or JSON settings; flags override it")
    p.add_argument("--out", metavar="DIR", help="run folder to create")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly; "
                   "with --out NEW, branch: NEW continues from RUN_DIR's last state with the "
                   "flags' settings (any but the networks, objective and data)")
    from .data import DATASETS
    p.add_argument("--data", metavar="NAME", help="the dataset: " + ", ".join(DATASETS) +
                   " (default: the preset's, else digits)")
    p.add_argument("--data-root", metavar="PATH", help="where the dataset's files are")
    p.add_argument("--split", help="the dataset's split to train on (default: its training split)")
    from .data import FITS
    p.add_argument("--fit", choices=FITS, help="image files to size: crop (shorter side, then the "
                   "centre; photographs) or pad (longer side, letterboxed onto --background; "
                   "objects) (default: the dataset's: pad for clip art, else crop)")
    p.add_argument("--background", metavar="COLOUR", help="what transparent pixels and pad's "
                   "margins become: a colour name or #rrggbb (default: white)")
    p.add_argument("--skip-bad", action="store_const", const=True, help="train without the image "
                   "files that cannot be decoded (counted on stderr) instead of stopping")
    for flag, kind, text in TRAIN_NUMBERS:
        default = flatten(TrainConfig().to_dict())[FLAG_KEYS[flag[2:].replace("-", "_")]]
        p.add_argument(flag, type=kind, help=text + " (default: the preset's, else "
                       f"{'unset' if default is None else default})")
    p.add_argument("--download", action="store_true", help="fetch the data first (mnist, "
                   "fashion-mnist, cifar10, svhn, stl10 and their stacked-* sets) from the official "
                   "addresses, MD5-checked, into --data-root or ~/.cache/dfmgan (never by default)")
    p.add_argument("--print-config", action="store_true", help="print the resolved "
                   "configuration as YAML and exit, training nothing")
    add_device(p, type=device_name, default=None)
    add_model_flags(p)
    p.add_argument("--sample-bn", choices=BN_MODES, help="BatchNorm mode for grids")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting, e.g. net.bn_affine=false (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="autocast the forward passes (fp16 on a GPU, with loss scaling); auto: "
                   "bf16 where the CPU has native bf16 dot products (avx512_bf16, amx_bf16), "
                   "else fp32 (default: fp32, the same bits on every CPU)")
    p.add_argument("--channels-last", action="store_const", const=True,
                   help="NHWC memory layout for the convolutions (the default)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_const",
                   const=False, help="NCHW layout instead")
    p.add_argument("--compile", action="store_const", const=True, help="torch.compile the networks")
    p.add_argument("--ema", type=float, metavar="IMAGES", help="keep an exponential moving "
                   "average of G with this half-life in images (e.g. 10000); sample, eval and "
                   "the tools then use it; 0 turns it off (default: the preset's, else off)")
    p.add_argument("--eval-best", metavar="KEY", help="the key RUN/best is kept by, e.g. fid "
                   "(default: the first metric's that keeps a best)")
    p.add_argument("--eval-metrics", metavar="LIST", help="metrics for --eval-every "
                   "(default: the data's own: fid, or modes on stacked-*)")
    p.add_argument("--nproc", type=number(1, 1_024), metavar="N", help="train on N processes: the same as "
                   "torchrun --standalone --nproc_per_node N -m dfmgan train ...")


def train_config(args):
    """The flags as the resolver's top layer (``--set`` over the named flags), over
    --config over --preset; on --resume the saved config is the base."""
    from .config import dotted, merge, parse_set, read_file
    from .resolver import resolve
    from .training.rundir import RunDir

    over: dict = {}
    for dest, key in FLAG_KEYS.items():
        if getattr(args, dest, None) is not None:
            over = merge(over, dotted(key, getattr(args, dest)))
    for item in args.set:
        over = merge(over, parse_set(item))
    file = read_file(args.config) if args.config else None
    base = RunDir(Path(args.resume)).saved_config().to_dict() if args.resume else None
    return resolve(over, preset=args.preset, file=file, base=base)


def relaunch(nproc: int, argv: list[str]) -> None:
    """``--nproc N``: replace this process by torchrun running N of the same command."""
    import os

    rest = [a for i, a in enumerate(argv) if a != "--nproc" and (i == 0 or argv[i - 1] != "--nproc")
            and not a.startswith("--nproc=")]
    os.execv(sys.executable, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                              f"--nproc_per_node={nproc}", "-m", "dfmgan", *rest])


def cmd_train(args) -> int:
    import os

    from . import distributed
    from .training import train

    if args.print_config:
        import yaml

        print(yaml.safe_dump(train_config(args).to_dict(), sort_keys=False), end="")
        return 0
    if not (args.out or args.resume):
        raise DfmganError("give --out DIR for a new run, --resume RUN_DIR to continue one, "
                          "or both to branch: a new run continuing from RUN_DIR's last state")
    branch = args.resume if args.out and args.resume else None
    cfg = train_config(args)
    # train() checks this too (for library callers); here it comes before a download or
    # a torchrun relaunch, so neither happens for a run that could not be written
    writable_folder(args.out or args.resume, "run")
    if args.download:
        from .data.download import download

        cfg.data.root = str(download(cfg.data.name, cfg.data.root, progress=not args.no_progress))
    if (args.nproc or 1) > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun
        relaunch(args.nproc, sys.argv[1:])
    try:
        result = train(cfg, args.out or args.resume, resume=bool(args.resume) and not branch,
                       progress=not args.no_progress, banner=True, branch_from=branch)
    finally:
        distributed.shutdown()
    if not distributed.from_env().main:
        return 128 + result.stopped_by if result.stopped_by is not None else 0
    if result.stopped_by is not None:
        print(f"stopped at step {result.step}/{result.steps}; checkpoint written. "
              f"Continue with: dfmgan train --resume {result.run_dir}", file=sys.stderr)
        return 128 + result.stopped_by
    run = RunLayout(result.run_dir)
    print(f"done: {result.step} steps; samples in {run.samples}, generator in {run.generator}")
    return 0
