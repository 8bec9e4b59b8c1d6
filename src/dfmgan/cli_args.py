"""The argument types and flags that several subcommands share: ranges checked by
``number`` (one line naming the range, exit 2), label budgets, --device and --threads,
--no-ema, --truncation. Every ``cli_*`` module takes its flags' types from here."""
from __future__ import annotations

import argparse

from .errors import DfmganError


def device(text: str) -> str:
    """--device, checked against this machine and resolved (auto -> cuda or cpu)."""
    from .devices import resolve_device

    try:
        return str(resolve_device(text))
    except DfmganError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def number(lo: float, hi: float, kind=int):
    """An argparse type: a ``kind`` number in lo..hi (both included), else one line naming
    the range. Every count, seed and size a subcommand takes goes through it."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}"
                                             f"number, got {text!r}") from None
        if not lo <= v <= hi:  # False for NaN
            raise argparse.ArgumentTypeError(f"must be in {lo:,}..{hi:,}, got {text}")
        return v
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def budgets(text: str) -> list[int | None]:
    """An argparse type: label budgets, counts per class and/or 'all' (None)."""
    from .tools.probe import parse_budgets

    try:
        out = parse_budgets(text)
    except DfmganError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--labels: ")) from None
    if not out:
        raise argparse.ArgumentTypeError(f"expected counts per class and/or 'all', got {text!r}")
    return out


def count_or_all(lo: int, hi: int):
    """An argparse type: a whole number in lo..hi, or 'all'."""
    whole = number(lo, hi)

    def parse(text: str):
        return "all" if text == "all" else whole(text)
    parse.__name__ = "int"
    return parse


SEED = number(0, 2 ** 32 - 1)
LABEL = number(0, 99_999)
LAYER = number(-64, 63)


def indices(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated indices, got {text!r}") from None


def threads_arg(text: str):
    """--threads: a count in 1..1,024, or auto."""
    return "auto" if text == "auto" else number(1, 1_024)(text)


def add_device(p, type=device, default: str | None = "auto", note: str = "",
               threads: bool = True) -> None:
    """--device, in every command: ``type`` checks it (and resolves it, by default); and
    --threads, torch's CPU threads for this command (``cli.main`` sets them first)."""
    p.add_argument("--device", type=type, default=default, help="auto (a GPU when there is one, "
                   "else the CPU), cpu, cuda or cuda:N" + (f"; {note}" if note else "; default: auto"))
    if threads:
        p.add_argument("--threads", dest="torch_threads", type=threads_arg, metavar="N|auto",
                       help="torch CPU threads (default: torch's, one per core; on a machine "
                       "with other work, fewer run faster); auto: the cores the last "
                       "minute's load leaves free, at least 1, printed")


def add_no_ema(p) -> None:
    p.add_argument("--no-ema", dest="ema", action="store_false",
                   help="use the raw generator even where the run kept an EMA of it")


def add_truncation(p) -> None:
    p.add_argument("--truncation", type=number(1e-6, 2.0, float), default=1.0, metavar="PSI",
                   help="the truncation trick: each z drawn is shrunk to ψ·z, towards the "
                   "latent's centre (1: none; lower: fidelity for diversity, BENCHMARKS.md)")
