"""D's features of trained runs against the baselines, by the ``probe`` metric's protocol
(issue 28): ``python benchmarks/probe_runs.py --data fashion-mnist --baselines NAMES RUN ...``.

Each run's D is probed on ``--data`` (its own data, or another set: transfer), on the fit
pool its own evaluator drew (``dfmgan baselines``: the run's eval_n and seed), and its
rows are written to RUN/baselines.json. The baselines named are computed once for the
first run's pool and architecture (then read from the cache). Prints one table: a row per
run, then a row per baseline; mean ± std over the probe's draws (a row per run: seeds are
rows, not pooled)."""
from __future__ import annotations

import argparse


def main() -> None:
    from dfmgan.evaluation.probe import key
    from dfmgan.tools.baselines import parse_names, run_baselines, table
    from dfmgan.tools.probe import parse_budgets

    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--data", default=None, help="probe on this set (default: each run's)")
    p.add_argument("--baselines", default="")
    p.add_argument("--out-name", default="baselines.json")
    p.add_argument("--labels", default="10,100,400", help="budgets per class and/or all")
    p.add_argument("--n-real", default=None, help="fit pool size, or all (default: the run's)")
    a = p.parse_args()
    budgets = parse_budgets(a.labels)
    n_real = a.n_real if a.n_real in (None, "all") else int(a.n_real)
    names = parse_names(a.baselines) if a.baselines else []
    rows = []
    for n, run in enumerate(a.runs):
        got = run_baselines(run, names if n == 0 else [], a.data, None, n_real, None, "cpu",
                            f"{run}/{a.out_name}", progress=False, budgets=budgets)
        label = "/".join(run.rstrip("/").split("/")[-2:])
        rows.insert(n, {**got[0], "features": f"D of {label}"})
        if n == 0:
            rows += got[1:]
        print(f"{label}: " + ", ".join(f"{key(b)} {100 * got[0][key(b)]:.2f}%"
                                       for b in budgets), flush=True)
    print(table(rows, budgets))


if __name__ == "__main__":
    main()
