"""An export cites what its run used, read from each part's own class: DCGAN always, and
the objective's, loss family's, D normalisation's and DiffAugment's papers where they have
one, nothing else; every entry is well-formed BibTeX, once."""
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
    # exactly the parts' own entries, read from each registered class: no name is asked
    want = {"radford2016dcgan", *(k for part in (OBJECTIVES[objective], ADVERSARIAL[family],
                                                 registered()[norm]) for k in keys(part.cites))}
    if augment:
        want.add("zhao2020diffaugment")
    assert set(got) == want
    assert text.count("{") == text.count("}") and text.startswith("```bibtex\n@")


def test_the_papers_each_part_cites():
    """The entries behind the exact sets above: DFM cites its paper, feature matching
    Salimans et al., and the GAN its family's Goodfellow et al. only."""
    assert keys(OBJECTIVES["dfm"].cites) == ["wardefarley2017dfm"]
    assert keys(OBJECTIVES["fm"].cites) == ["salimans2016improved"]
    assert keys(OBJECTIVES["gan"].cites) == [] or keys(OBJECTIVES["gan"].cites) == \
        keys(ADVERSARIAL["non-saturating"].cites)
