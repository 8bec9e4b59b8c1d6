"""The GPU check: every GPU path of dfmgan, run for real, with one summary line.

    make gpu-check                                   # = PYTHONPATH=src python3 benchmarks/gpu_check.py
    PYTHONPATH=src python3 benchmarks/gpu_check.py --device cpu --quick   # the same logic on a CPU

For a GPU machine with torch preinstalled and no network: it needs nothing but torch and
dfmgan's light dependencies. It runs, each in its own process, on the bundled digits:
  * a few training steps of gan, dfm and fm in fp32, bf16, fp16 (with loss scaling), with
    channels_last off, and with --compile;
  * resume on the device (against a straight run), and a CPU -> device resume;
  * torchrun with one process (NCCL on a GPU, gloo on the CPU);
  * sample and eval on the device;
  * the throughput table (benchmarks/throughput.py --device ...), unless --quick.
It writes every result to --json (default gpu-check.json) and exits 1 if any check failed."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "digits", "--set", "net.g_width=8", "--set", "net.d_width=8",
        "--batch-size", "16", "--log-every", "1", "--set", "grid=16", "--no-progress"]
OWN = {"dfm": ["--set", "objective.dfm.denoiser.width=64"]}  # an objective's own settings


def dfmgan(*args: str) -> list[str]:
    return [sys.executable, "-m", "dfmgan", *args]


def run(cmd: list[str], timeout: int = 900) -> tuple[bool, str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
        ok, out = r.returncode == 0, (r.stdout + r.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        ok, out = False, f"timed out after {timeout} s"
    return ok, out, time.perf_counter() - t0


def weights_close(a: Path, b: Path, atol: float) -> tuple[bool, str]:
    from safetensors.torch import load_file

    if not all((p / "generator.safetensors").exists() for p in (a, b)):
        return False, "a run above did not finish, so there is nothing to compare"
    x, y = load_file(a / "generator.safetensors"), load_file(b / "generator.safetensors")
    worst = max((x[k].float() - y[k].float()).abs().max().item() for k in x)
    return worst <= atol, f"max |Δ| over G's weights: {worst:.2e} (allowed {atol})"


def training_checks(dev: str, tmp: Path, quick: bool) -> list[tuple[str, list[str]]]:
    variants = [("fp32", []), ("bf16", ["--precision", "bf16"])]
    if dev != "cpu":
        variants.append(("fp16", ["--precision", "fp16"]))
    if not quick:
        variants += [("nchw", ["--no-channels-last"]), ("compile", ["--compile"])]
    return [(f"train {obj} {name}", dfmgan("train", *TINY, *OWN.get(obj, []), "--objective", obj,
                                           "--steps", "3", "--device", dev, *flags,
                                           "--out", str(tmp / f"{obj}-{name}")))
            for obj in ("gan", "dfm", "fm") for name, flags in variants]


def resume_checks(dev: str, tmp: Path) -> list[tuple[str, object]]:
    """(name, command or callable): straight vs resumed on the device, CPU -> device."""
    flags = [*TINY, "--set", "checkpoint_every=2"]
    out = []
    for name, first in (("resume on device", dev), ("resume cpu -> device", "cpu")):
        straight, part = tmp / f"{name[:8]}-{first}-straight", tmp / f"{name[:8]}-{first}-part"
        out += [(f"{name}: straight", dfmgan("train", *flags, "--steps", "4", "--device", dev,
                                             "--out", str(straight))),
                (f"{name}: first half", dfmgan("train", *flags, "--steps", "2", "--device", first,
                                               "--out", str(part))),
                (f"{name}: second half", dfmgan("train", "--resume", str(part), "--steps", "4",
                                                "--device", dev, "--no-progress")),
                (f"{name}: equal", lambda s=straight, p=part: weights_close(s, p, 5e-3))]
    return out


def other_checks(dev: str, tmp: Path, quick: bool) -> list[tuple[str, list[str]]]:
    run_dir = tmp / "gan-fp32"
    checks = [("torchrun, 1 process", [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                       "--nproc_per_node", "1", "-m", "dfmgan", "train", *TINY,
                                       "--steps", "3", "--device", dev, "--out", str(tmp / "ddp")]),
              ("sample", dfmgan("sample", str(run_dir), "--n", "64", "--device", dev,
                                "--out", str(tmp / "grid.png"))),
              ("eval", dfmgan("eval", str(run_dir), "--metrics", "fid,is", "--n", "500",
                              "--device", dev, "--out", str(tmp / "metrics.jsonl")))]
    if not quick:
        checks.append(("throughput table", [sys.executable, str(ROOT / "benchmarks" / "throughput.py"),
                                            "--device", dev]))
    return checks


def device_name(dev: str) -> str:
    import torch

    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit(f"gpu-check: no CUDA device (torch {torch.__version__}); use --device cpu")
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"CPU, torch {torch.__version__}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="fewer variants, no throughput table")
    ap.add_argument("--json", type=Path, default=Path("gpu-check.json"))
    args = ap.parse_args()
    name, t0, results = device_name(args.device), time.perf_counter(), []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        checks = [*training_checks(args.device, tmp, args.quick), *resume_checks(args.device, tmp),
                  *other_checks(args.device, tmp, args.quick)]
        for label, check in checks:
            ok, out, secs = (*check(), 0.0) if callable(check) else run(check)
            results.append({"check": label, "ok": ok, "seconds": round(secs, 1), "output": out})
            print(f"{'ok  ' if ok else 'FAIL'} {label} ({secs:.0f} s)" + ("" if ok else f"\n{out}"),
                  flush=True)
    passed = sum(r["ok"] for r in results)
    summary = (f"gpu-check: {passed}/{len(results)} passed on {name} "
               f"in {time.perf_counter() - t0:.0f} s")
    args.json.write_text(json.dumps({"device": name, "summary": summary, "results": results}, indent=1))
    print(summary)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
