"""The relativistic average family (objectives/relativistic.py): its losses by hand, G's
term reading the real side, and every registered objective training with it under both
update schemes."""
import math

import pytest
import torch

from dfmgan.objectives import OBJECTIVES
from dfmgan.objectives.adversarial import ADVERSARIAL, family
from dfmgan.objectives.base import SCHEMES


def softplus(a: float) -> float:
    return math.log1p(math.exp(a))


def test_relativistic_losses_by_hand():
    ra = family("relativistic")
    d_real, d_fake = torch.tensor([1.0, 2.0]), torch.tensor([0.0, -1.0])
    mr, mf = 1.5, -0.5  # the means of each side
    d = (softplus(-(1 - mf)) + softplus(-(2 - mf))) / 2 + (softplus(0 - mr) + softplus(-1 - mr)) / 2
    g = (softplus(-(0 - mr)) + softplus(-(-1 - mr))) / 2 + (softplus(1 - mf) + softplus(2 - mf)) / 2
    assert ra.d_loss(d_real, d_fake).item() == pytest.approx(d)
    assert ra.g_loss(d_fake, d_real).item() == pytest.approx(g)


def test_g_term_reads_the_real_side_and_only_moves_g():
    ra = family("relativistic")
    d_fake = torch.tensor([0.3, -0.2], requires_grad=True)
    d_real = torch.tensor([1.0, 2.0], requires_grad=True)
    ra.g_loss(d_fake, d_real).backward()
    assert d_fake.grad.abs().sum() > 0 and d_real.grad is None  # real logits: constants for G
    shifted = ra.g_loss(d_fake.detach(), d_real.detach() + 1)
    assert shifted.item() != pytest.approx(ra.g_loss(d_fake.detach(), d_real.detach()).item())
    with pytest.raises(ValueError):
        ra.g_loss(d_fake)  # a scheme that forgot the real side is an error, not a silent zero


def test_the_other_families_ignore_the_real_side():
    d_fake, d_real = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 2.0])
    for name, cls in ADVERSARIAL.items():
        if not cls.needs_real:
            adv = family(name)
            assert adv.g_loss(d_fake, d_real).item() == adv.g_loss(d_fake).item()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_every_objective_trains_with_it(tmp_path, tiny_cfg, objective, scheme):
    from dfmgan.checkpoint import load_latest_state
    from dfmgan.training import train

    from dfmgan.config import ObjectiveConfig
    from dfmgan.errors import ConfigError

    own = {"dfm": {"denoiser": {"width": 16}}} if objective == "dfm" else {}
    over = {"name": objective, "adversarial": "relativistic", "scheme": scheme, **own}
    try:  # what the objective declares it works with (WGAN-GP: the Wasserstein family only)
        OBJECTIVES[objective].resolve(ObjectiveConfig(objective, scheme, "relativistic"))
    except ConfigError:
        with pytest.raises(ConfigError):
            tiny_cfg(objective=over, steps=3)
        return
    cfg = tiny_cfg(objective=over, steps=3)
    assert train(cfg, tmp_path / "run", progress=False).step == 3
    state = load_latest_state(tmp_path / "run")
    assert all(torch.isfinite(v).all() for v in state["objective"]["modules"]["G"].values()
               if v.is_floating_point())
