"""``dfmgan`` command line: thin subcommands that parse, build a config and call one
function. Every user error is one line on stderr and exit status 2."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from . import __version__
from .cli_tools import EXAMPLES as TOOL_EXAMPLES
from .cli_eval import EXAMPLES as EVAL_EXAMPLES
from .cli_eval import add_eval, add_reference, cmd_eval, cmd_reference
from .cli_inputs import EXAMPLES as INPUT_EXAMPLES
from .cli_inputs import INPUTS
from .cli_args import LABEL, SEED, add_device, add_no_ema, add_truncation, number
from .cli_tools import TOOLS
from .cli_train import add_train, cmd_train, device_name
from .devices import threads_set
from .errors import ConfigError, DfmganError, DivergedError
from .files import writable_file, writable_folder
from .layout import RunLayout
from .models.netconfig import BN_MODES

EXAMPLES = {
    "train": """examples:
  dfmgan train --preset digits --out runs/demo
  dfmgan train --preset fashion-mnist --out runs/fm --steps 5000
  dfmgan train --preset fashion-mnist --objective dfm --out runs/fm-dfm
  dfmgan train --data cifar10 --data-root ~/data/cifar-10-python.tar.gz --out runs/c10
  dfmgan train --data folder --data-root ~/faces --size 64 --out runs/faces
  dfmgan train --config my.yaml --set net.g_width=128 --out runs/x
  dfmgan train --resume runs/fm --steps 20000       # continue, with a longer budget
  dfmgan train --resume runs/fm --out runs/fm-lr --lr 5e-5 --steps 8000   # branch from its last state
  dfmgan train --preset fashion-mnist --eval-every 500 --out runs/fm   # FID; best kept in runs/fm/best
  dfmgan train --preset fashion-mnist --classes 10 --out runs/fm-cond   # conditional DCGAN""",
    "sample": """examples:
  dfmgan sample runs/demo --n 64 --out grid.png
  dfmgan sample runs/demo/generator.safetensors --n 10000 --out samples.npz
  dfmgan sample runs/demo --n 100 --out pngs/ --seed 3
  dfmgan sample zoo:fashion-mnist-gan --seeds 0-35 --truncation 0.7 --out t.png""",
    "report": """example:
  dfmgan report runs/fm     # writes runs/fm/report.html""",
    "study": """spec:
  preset: stacked-fashion-mnist
  set: {steps: 2000, eval_every: 250}          # every run
  seeds: 3
  settings:
    gan: {objective.name: gan}
    dfm-x1000: {objective.name: dfm, objective.dfm.lambda_scale: 1000}
  budgets: [500, 1000, 2000]
  launcher: {name: slurm, partition: gpu, time_min: 240, gpus: 1, cpus: 8}   # optional
writes OUT/<setting>-s<seed>/ (ordinary runs), OUT/curves.png, OUT/table.md, OUT/curves.json, OUT/grids.png
on a cluster: dfmgan study spec.yaml --out runs/st --launcher slurm --partition gpu --gpus 1""",
    "export": """example:
  dfmgan eval runs/fm && dfmgan export runs/fm --out share/fm --license CC-BY-4.0""",
    "info": """examples:
  dfmgan info runs/demo
  dfmgan info runs/demo/generator.safetensors --json""",
}

class Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every flag's default shown unless its help names it."""

    def _get_help_string(self, action):
        text, d = action.help or "", action.default
        shown = action.nargs != 0 and d is not None and d is not argparse.SUPPRESS and d != []
        return text + " (default: %(default)s)" if shown and "default" not in text else text


class Parser(argparse.ArgumentParser):
    """One-line errors, no abbreviated flags (``--step`` is not silently ``--steps``), and a
    suggestion for a misspelt one (``--stpes``: did you mean --steps?)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}{self.suggestion(message)}\n")

    def suggestion(self, message: str) -> str:
        import difflib
        import re

        if not (m := re.match(r"unrecognized arguments: (.*)", message)):
            return ""
        parsers = [self] + [p for a in self._actions
                            if isinstance(a, argparse._SubParsersAction) for p in a.choices.values()]
        flags = sorted({o for p in parsers for a in p._actions for o in a.option_strings
                        if o.startswith("--")})
        tips = []
        for word in m.group(1).split():
            flag = word.split("=", 1)[0]
            if flag.startswith("--") and (close := difflib.get_close_matches(flag, flags, 1, 0.75)):
                tips.append(f"{flag}: did you mean {close[0]}?")
        return ("; " + "; ".join(tips)) if tips else ""


def add_sample(p) -> None:
    p.add_argument("source", help="a run folder, zoo:NAME or a generator .safetensors snapshot")
    p.add_argument("--n", type=number(1, 1_000_000), default=64, help="how many images (default 64)")
    p.add_argument("--out", required=True, help="grid .png, .npz (uint8 NHWC) or a folder")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the latents drawn")
    p.add_argument("--seeds", help="one image per seed, e.g. 0-35,40 (instead of --n and "
                   "--seed); with --bn running each image depends on its seed alone")
    p.add_argument("--bn", choices=BN_MODES, default="batch",
                   help="BatchNorm statistics to sample with (default: batch)")
    p.add_argument("--numbered", action="store_true", help="print each image's index on the grid")
    add_truncation(p)
    p.add_argument("--label", type=LABEL, help="class of every image (conditional generator; "
                   "default: cycle through the classes)")
    add_device(p)
    add_no_ema(p)


def add_study(p) -> None:
    p.add_argument("spec", help="the study's YAML or JSON spec (see below)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the study's runs "
                   "and results; rerun the same command to resume a stopped study")
    p.add_argument("--jobs", type=number(1, 256), help="runs at a time (default: the spec's, else 2)")
    p.add_argument("--threads", type=number(1, 1_024), help="torch threads per run (default: the spec's, else 1)")
    add_device(p, type=device_name, default=None, note="of every run; default: the spec's, else auto",
               threads=False)
    p.add_argument("--report-only", action="store_true", help="write the results of the runs "
                   "there are, training nothing")
    p.add_argument("--only", metavar="RUNS", help="train only these runs: names or globs, "
                   "comma-separated (gan-s1,dfm-*); the results cover every run there is")
    from .tools.launchers import LAUNCHERS
    p.add_argument("--launcher", choices=LAUNCHERS, help="where runs execute: local processes, "
                   "Slurm jobs through submitit, or submitit's local executor (default: the "
                   "spec's, else local)")
    p.add_argument("--partition", help="slurm: the partition of every run's job")
    p.add_argument("--time-min", type=number(1, 10 ** 6), help="submitit: each job's time "
                   "limit in minutes; a job that reaches it checkpoints and is requeued")
    p.add_argument("--gpus", type=number(0, 64), help="submitit: GPUs per run")
    p.add_argument("--cpus", type=number(1, 1_024), help="submitit: CPUs per run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")





def add_report(p) -> None:
    p.add_argument("run_dir", help="a run folder")
    p.add_argument("--out", help="HTML file (default: RUN_DIR/report.html)")


def add_info(p) -> None:
    p.add_argument("path", help="a run folder, zoo:NAME or a generator .safetensors snapshot")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser(only: str | None = None) -> Parser:
    """The whole CLI, or (``only``) the one subcommand about to run: the others get their
    name and one line of help, so ``dfmgan --help`` imports no torch and no registry."""
    parser = Parser(prog="dfmgan", description="Train, evaluate and explore DCGANs with "
                    "Denoising Feature Matching.")
    parser.add_argument("--version", action="version", version=f"dfmgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (help, add, _) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help, epilog=EXAMPLES.get(name),
                           formatter_class=Formatter)
        if only is None or only == name:
            add(p)
    return parser


def chosen(argv: list[str]) -> str:
    """The subcommand named in ``argv`` ('' for none: ``dfmgan --help``)."""
    return next((a for a in argv if not a.startswith("-")), "")


def class_labels(G, args):
    import torch

    if args.label is None:
        return None
    if not 0 <= args.label < G.cfg.n_classes:
        raise DfmganError(f"--label {args.label}: this generator has {G.cfg.n_classes} classes")
    return torch.full((args.n,), args.label)


def cmd_sample(args) -> int:
    from .imageio import folder_names, save_images
    from .outputs import check_free
    from .sampling import parse_seeds, sample_seeds
    from .snapshot import load_generator

    seeds = parse_seeds(args.seeds) if args.seeds else None
    if seeds is not None:
        args.n = len(seeds)
    out = Path(args.out)
    if out.suffix.lower() in (".png", ".npz"):
        writable_file(out)
    else:
        check_free(writable_folder(out), folder_names(args.n))
    G = load_generator(args.source, device=args.device, ema=args.ema)
    labels = class_labels(G, args)
    psi = args.truncation
    images = G.sample(args.n, seed=args.seed, mode=args.bn, labels=labels, truncation=psi) \
        if seeds is None else sample_seeds(G.net, seeds, args.bn, labels, pad_seed=args.seed,
                                           truncation=psi)
    path = save_images(images, Path(args.out), numbered=args.numbered)
    print(f"wrote {args.n} images to {path}")
    return 0


def cmd_study(args) -> int:
    from .tools.study import load_study, run_study, select
    from .tools.study_report import write_results

    study = load_study(Path(args.spec), writable_folder(args.out), args.device)
    if args.only is not None:
        select(study, args.only)
    for flag in ("jobs", "threads", "launcher"):
        if getattr(args, flag) is not None:
            setattr(study, flag, getattr(args, flag))
    study.launch.update({k: getattr(args, k) for k in ("partition", "time_min", "gpus", "cpus")
                         if getattr(args, k) is not None})
    study.out.mkdir(parents=True, exist_ok=True)
    failed = [] if args.report_only else run_study(study, progress=not args.no_progress)
    paths = write_results(study)
    print(Path(paths["table"]).read_text())
    print("results: " + ", ".join(str(paths[k]) for k in ("plot", "table", "curves", "grids")
                                  if k in paths))
    if failed:
        print("dfmgan: error: runs failed: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


def add_export(p) -> None:
    p.add_argument("run_dir", help="a run folder")
    p.add_argument("--out", required=True, help="folder for generator.safetensors (+ .json) and "
                   "README.md, the model card")
    p.add_argument("--license", default="unspecified", help="the licence the card states "
                   "(e.g. CC-BY-4.0; mind the training data's own terms)")
    add_no_ema(p)


def cmd_export(args) -> int:
    from .tools.export import export

    out = export(Path(args.run_dir), writable_folder(args.out), args.license, args.ema)
    print(f"wrote {RunLayout(out).generator} and its model card {RunLayout(out).model_card}")
    return 0


def cmd_report(args) -> int:
    from .tools.report import write_report

    writable_file(args.out or RunLayout(args.run_dir).report, "report")
    print(f"wrote {write_report(Path(args.run_dir), args.out)}")
    return 0


def add_zoo(p) -> None:
    p.add_argument("--json", action="store_true", help="the zoo's index as JSON")


def cmd_zoo(args) -> int:
    from . import zoo

    print(json.dumps(zoo.entries(), indent=2) if args.json else zoo.listing())
    return 0


SOURCES = ("source", "run_dir", "path")  # the positionals that name a run, where zoo:NAME works


def zoo_sources(args) -> None:
    """``zoo:NAME`` in a run's place -> the model's folder, its checksums verified."""
    from . import zoo

    for name in SOURCES:
        if zoo.is_zoo(getattr(args, name, None)):
            setattr(args, name, zoo.resolve(getattr(args, name)))


def cmd_info(args) -> int:
    from .tools.inspect import describe_path

    print(describe_path(Path(args.path), as_json=args.json))
    return 0


# name -> (one line for `dfmgan --help`, what adds its flags, what runs it)
SUBCOMMANDS = {
    "train": ("train a GAN", add_train, cmd_train),
    "sample": ("draw images from a trained generator", add_sample, cmd_sample),
    "eval": ("score a generator or a set of images with metrics by name", add_eval, cmd_eval),
    "reference": ("save a reference's features and statistics once, for eval --ref",
                  add_reference, cmd_reference),
    "study": ("a grid of (setting x seed) runs, then curves and tables", add_study, cmd_study),
    "report": ("one self-contained HTML page for a run", add_report, cmd_report),
    "info": ("what a run folder or snapshot holds", add_info, cmd_info),
    "zoo": ("the pretrained models that ship with dfmgan (zoo:NAME in a run's place)",
            add_zoo, cmd_zoo),
    "export": ("a generator to share: the snapshot and a README.md model card", add_export,
               cmd_export),
    **TOOLS,
    **INPUTS,
}
EXAMPLES.update(TOOL_EXAMPLES)
EXAMPLES.update(INPUT_EXAMPLES)
EXAMPLES.update(EVAL_EXAMPLES)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. A problem with the input (a ``DfmganError``, or a file the
    system refuses: missing, unwritable, a full disk) is one line and status 2."""
    argv = sys.argv[1:] if argv is None else argv
    parser = None
    try:
        parser = build_parser(chosen(argv))
        args = parser.parse_args(argv)
        no_empty_paths(args)
        zoo_sources(args)
        with threads_set(getattr(args, "torch_threads", None)):
            return SUBCOMMANDS[args.command][2](args)
    except DivergedError as e:
        print(f"dfmgan: error: {one_line(str(e))}", file=sys.stderr)
        return 3
    except DfmganError as e:
        return fail(str(e) + hint(e, parser, argv))
    except BrokenPipeError:
        raise  # a reader that left (`| head`): __main__ ends quietly with the shell's 141
    except OSError as e:  # a path the system refused, met after the checks up front
        where = f"{e.filename}: " if e.filename else ""
        return fail(f"{where}{e.strerror or e}")
    except MemoryError:
        what = " ".join(a for a in argv[:2] if not a.startswith("-"))
        return fail(f"out of memory in `dfmgan {what}`; ask for fewer samples, a smaller "
                    "batch or narrower nets, or check that its input files are what they seem")
    except KeyboardInterrupt as e:
        return 128 + (e.args[0] if e.args and isinstance(e.args[0], int) else signal.SIGINT)


def no_empty_paths(args) -> None:
    """An empty path (``--out ''``) is refused: ``Path("")`` is the current folder, which
    is not what anybody meant to write into."""
    for name, value in vars(args).items():
        if value == "" and name in ("out", "config", "data_root", "ref", "latents", "source", "run_dir"):
            raise ConfigError(f"--{name.replace('_', '-')} is empty: give a path")


def hint(e: DfmganError, parser, argv: list[str]) -> str:
    """"; FLAG FIX" where the error names a flag (``DfmganError.flag``) that the command
    which failed takes; nothing otherwise."""
    flag = getattr(e, "flag", "")
    command = chosen(argv)
    if not flag or parser is None or command is None:
        return ""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub = subs[0].choices.get(command) if subs else None
    takes = sub is not None and any(flag in a.option_strings for a in sub._actions)
    return f"; {flag} {e.fix}" if takes else ""


def fail(message: str) -> int:
    print(f"dfmgan: error: {one_line(message)}", file=sys.stderr)
    return 2


# characters: a message longer than this (a tool's whole stderr) is cut, at a word's end;
# dfmgan's own longest (a resume refusal naming its run three times) stays well under it
MAX_MESSAGE = 1000


def one_line(message: str) -> str:
    """Any message as one line: lines joined (a tar or zip error over several lines), a
    path's repr shown as the path, and an endless one cut."""
    import re

    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    text = re.sub(r"(?:Posix|Windows)?Path\('([^']*)'\)", r"\1", text)
    if len(text) <= MAX_MESSAGE:
        return text
    cut = text[:MAX_MESSAGE - 2]
    return cut[:cut.rfind(" ")].rstrip(",;:") + " …" if " " in cut else cut + " …"  # at a word's end


if __name__ == "__main__":
    sys.exit(main())
