"""Each metric is one record in one module: its needs, which way its numbers are better,
the key it keeps a best by and its place in the standard set are read from the record,
and its name is spelled nowhere else in the package."""
import inspect
import io
import tokenize
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import dfmgan
from dfmgan.errors import DfmganError
from dfmgan.evaluation.registry import BETTER, NEEDS, Metric, all_metrics, best_keys, standard

PKG = Path(dfmgan.__file__).parent
# a data set names the metrics it is scored by: that is the data set's own fact
DECLARED_BY_DATA = {("modes", "data/stacked.py")}
# another fact that shares a metric's name: the `dfmgan probe` subcommand and its probe.json
SAME_NAME = {("probe", "layout.py"), ("probe", "cli_tools.py"), ("probe", "tools/probe.py")}


def literals(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every whole string literal (docstrings and f-strings aside)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.STRING and tok.string[:1] in "\"'":
            out.append((tok.start[0], tok.string[1:-1]))
    return out


def test_every_record_is_whole():
    for name, m in all_metrics().items():
        assert m.name == name and m.meaning and set(m.needs) <= set(NEEDS)
        assert all(v in BETTER for v in m.better.values()) and (m.best is None or m.best in m.better)


def test_no_metric_name_outside_its_own_module():
    found = []
    for name, m in all_metrics().items():
        home = Path(inspect.getsourcefile(m.fn)).resolve()
        spelled = {name, f"eval/{name}", f"eval_raw/{name}"} | {f"eval/{k}" for k in m.better}
        for path in PKG.rglob("*.py"):
            rel = str(path.relative_to(PKG))
            if path.resolve() == home or (name, rel) in DECLARED_BY_DATA | SAME_NAME:
                continue
            found += [(name, rel, line) for line, v in literals(path) if v in spelled]
    assert not found


def test_the_standard_set_and_best_keys_come_from_the_records():
    assert standard() == ("fid", "kid", "pr", "is", "coverage")
    assert best_keys(["kid", "modes", "fid"]) == [("modes_kl", True), ("fid", True)]


@given(needs=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
       better=st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=7), max_size=3),
       best=st.one_of(st.none(), st.text(min_size=1, max_size=5)))
def test_a_wrong_record_is_refused_when_registered(needs, better, best):
    m = Metric("zz", lambda j, o: {}, "m", tuple(needs), better, best)
    right = set(needs) <= set(NEEDS) and set(better.values()) <= set(BETTER) \
        and (best is None or best in better)
    if right:
        m.check()
    else:
        with pytest.raises(DfmganError, match="registered wrongly"):
            m.check()
