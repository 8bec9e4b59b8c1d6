"""An export cites what its run used, read from each part's own class: DCGAN always, the
DFM paper only for dfm, and the objective's, loss family's, D normalisation's and
DiffAugment's papers where they have one; every entry is well-formed BibTeX, once."""
import re

import pytest

from dfmgan.config import from_dict
from dfmgan.errors import ConfigError
from dfmgan.models.d_norms import registered
from dfmgan.objectives import OBJECTIVES
from dfmgan.objectives.adversarial import ADVERSARIAL
from dfmgan.tools.export import citations

CASES = [(o, f, n, a) for o in sorted(OBJECTIVES) for f in sorted(ADVERSARIAL)
         for n in sorted(registered()) for a in ("", "color")]


def keys(text: str) -> list[str]:
    return re.findall(r"^@\w+\{(\w+),", text, re.M)


@pytest.mark.parametrize("objective,family,norm,augment", CASES)
def test_every_combination_cites_what_it_used(objective, family, norm, augment):
    cfg = from_dict({"objective": {"name": objective, "adversarial": family, "augment": augment},
                     "net": {"d_norm": norm}})
    try:
        OBJECTIVES[objective].resolve(cfg.objective)
    except ConfigError:
        return  # a pair the objective refuses is never trained, so never exported
    text = citations(cfg)
    got = keys(text)
    assert got[0] == "radford2016dcgan" and len(got) == len(set(got))
    assert ("wardefarley2017dfm" in got) == (objective == "dfm")
    for part in (OBJECTIVES[objective], ADVERSARIAL[family], registered()[norm]):
        if part.cites:
            assert keys(part.cites)[0] in got
    assert ("zhao2020diffaugment" in got) == bool(augment)
    assert text.count("{") == text.count("}") and text.startswith("```bibtex\n@")
