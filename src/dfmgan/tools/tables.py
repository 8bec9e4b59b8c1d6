"""The README's tables that are facts of the registries, rendered from them: every metric
(what it needs, which way its numbers are better, whether it is in the standard set) and
every D normalisation. ``python -m dfmgan.tools.tables`` prints them, ``--write README.md``
puts each between its ``<!-- table:NAME -->`` and ``<!-- /table -->`` markers, and a test
checks that the README holds them as rendered now."""
from __future__ import annotations

import re
import sys
from pathlib import Path


def metrics_table() -> str:
    from ..evaluation.registry import all_metrics

    rows = ["| `--metrics` | needs | better | standard | best kept by | meaning |",
            "|---|---|---|---|---|---|"]
    for name, m in sorted(all_metrics().items()):
        better = ", ".join(f"{k} {v}" for k, v in m.better.items()) or "—"
        rows.append(f"| `{name}` | {', '.join(m.needs)} | {better} | {'yes' if m.default else ''} "
                    f"| {m.best or ''} | {m.meaning} |")
    return "\n".join(rows)


def d_norms_table() -> str:
    from ..models.d_norms import registered

    rows = ["| `--d-norm` | what follows each inner conv of D |", "|---|---|"]
    rows += [f"| `{n}` | {cls.summary} |" for n, cls in sorted(registered().items())]
    return "\n".join(rows)


TABLES = {"metrics": metrics_table, "d-norms": d_norms_table}


def marked(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- table:{re.escape(name)} -->\n)(?:.*?\n)??(<!-- /table -->)", re.S)


def write(path: Path) -> None:
    from ..files import atomic_write

    text = path.read_text()
    for name, render in TABLES.items():
        text, n = marked(name).subn(lambda m: m.group(1) + render() + "\n" + m.group(2), text)
        if n != 1:
            raise SystemExit(f"{path}: needs one <!-- table:{name} --> ... <!-- /table --> block")
    atomic_write(path, text.encode())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]))
    else:
        print("\n\n".join(render() for render in TABLES.values()))
