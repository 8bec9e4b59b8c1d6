"""Wall-clock time of each command of the README's zoo tour, as written there, plus
``--threads`` (default ``auto``), in a temporary folder; the load average before each, so a
loaded machine's numbers say so. The probe (minutes) is left out unless ``--probe``.

    python benchmarks/zoo_tour.py [--threads auto|N] [--probe]
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tour() -> list[str]:
    """The dfmgan lines of the README's zoo block, comments cut."""
    block = README.read_text().split("## Five minutes with the zoo", 1)[1].split("```sh", 1)[1]
    lines = [l.split("#", 1)[0].strip() for l in block.split("```", 1)[0].splitlines()]
    return [l for l in lines if l.startswith("dfmgan ")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="auto")
    p.add_argument("--probe", action="store_true")
    a = p.parse_args()
    print(f"| command | load before | seconds |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for line in tour():
            if "probe" in line and not a.probe:
                continue
            argv = shlex.split(line)[1:]
            if argv[0] != "zoo" and "--threads" not in argv:  # zoo runs no network
                argv += ["--threads", a.threads]
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "dfmgan", *argv], cwd=tmp,
                               capture_output=True, text=True)
            took = time.perf_counter() - t0
            shown = re.sub(r"\s+", " ", line)
            status = "" if r.returncode == 0 else f" (exit {r.returncode}: {r.stderr.strip()[-80:]})"
            print(f"| `{shown}`{status} | {load:.1f} | {took:.1f} |", flush=True)


if __name__ == "__main__":
    main()
