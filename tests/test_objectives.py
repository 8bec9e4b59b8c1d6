"""The objectives' maths, checked against computations done another way."""
import copy

import pytest
import torch
from torch.func import functional_call, jacrev, replace_all_batch_norm_modules_

from dfmgan.config import ObjectiveConfig, OptimConfig
from dfmgan.models import Denoiser, Discriminator, Generator, NetConfig
from dfmgan.objectives import OBJECTIVES, build_objective
from dfmgan.objectives.adversarial import NonSaturating
from dfmgan.objectives.dfm import denoising_loss
from dfmgan.objectives.features import phi

ATOL = dict(rtol=1e-4, atol=1e-7)


def setup(name="dfm", scheme="simultaneous", seed=0, **own):
    """``own``: the objective's own settings (objective.NAME.*)."""
    torch.manual_seed(seed)
    cfg = NetConfig(size=28, channels=1, g_width=4, d_width=4)
    G, D = Generator(cfg), Discriminator(cfg)
    if name == "dfm":
        own = {"denoiser": {"depth": 2, "width": 32}, **own}
    ocfg = ObjectiveConfig(name=name, scheme=scheme, own=own)
    obj = build_objective(G, D, ocfg, OptimConfig(lr=1e-3))
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    z = G.sample_latent(6, torch.Generator().manual_seed(seed + 1))
    return obj, real, z


def grads(module):
    return [p.grad.clone() if p.grad is not None else None for p in module.parameters()]


def test_dfm_lambda_default_is_1000_times_003_over_nh():
    # the objective's own default (DFMSettings.lambda_scale), even when built directly
    obj, _, _ = setup()
    assert obj.lambda_denoise == pytest.approx(1000 * 0.03 / (8 * 7 * 7))
    paper, _, _ = setup(lambda_scale=1.0)  # the paper's λ_denoise = 0.03 / n_h
    assert paper.lambda_denoise == pytest.approx(0.03 / (8 * 7 * 7))


def test_dfm_gradient_matches_the_analytic_form():
    """∂L/∂θ = 2λ/B Σ_b (Φ_b - r_b)ᵀ ∂Φ_b/∂θ with r held constant (λ_adv = 0 isolates it)."""
    obj, _, z = setup(lambda_adv=0.0, lambda_scale=1.0)  # the paper's λ, as calibrated
    G, D, R, lam = obj.G, obj.D, obj.R, obj.lambda_denoise
    loss, _ = obj.g_loss(D.features(G(z)), None)
    loss.backward(inputs=list(G.parameters()))
    auto = {n: p.grad.clone() for n, p in G.named_parameters()}

    # Same functions, without running-stat updates (which functorch cannot trace);
    # in train mode BatchNorm uses batch statistics either way.
    Gf, Df = (replace_all_batch_norm_modules_(copy.deepcopy(m)) for m in (G, D))
    params = {n: p.detach() for n, p in Gf.named_parameters()}

    def features(p):  # θ -> Φ(G_θ(z)), (B, n_h)
        return phi(Df.features(functional_call(Gf, p, (z,))), -1)

    with torch.no_grad():
        h = features(params)
        r = R(h)  # the constant target
    jac = jacrev(features)(params)  # name -> (B, n_h, *θ.shape)
    coef = 2 * lam * (h - r) / h.shape[0]  # (B, n_h)
    for n, J in jac.items():
        manual = torch.einsum("bk,bk...->...", coef, J)
        assert torch.allclose(auto[n], manual, rtol=1e-4, atol=1e-9), n


@pytest.mark.parametrize("scheme", ["simultaneous", "alternating"])
def test_g_loss_sends_no_gradient_into_d_or_the_denoiser(scheme):
    """After a step, D's gradient is that of L_D alone and r's that of L_r alone."""
    obj, real, z = setup(scheme=scheme)
    G0, D0, R0 = (copy.deepcopy(m) for m in (obj.G, obj.D, obj.R))
    torch.manual_seed(7)
    obj.step(real, z)
    fake = G0(z).detach()
    NonSaturating().d_loss(D0(real), D0(fake)).backward()
    for p, q in zip(obj.D.parameters(), D0.parameters()):
        assert torch.allclose(p.grad, q.grad, **ATOL)
    D_used = copy.deepcopy(obj.D) if scheme == "alternating" else D0  # r sees the updated D
    with torch.no_grad():
        h = phi(D_used.features(real), -1)
    torch.manual_seed(7)
    denoising_loss(R0, h, 1.0).backward()
    for p, q in zip(obj.R.parameters(), R0.parameters()):
        assert torch.allclose(p.grad, q.grad, **ATOL)


def test_denoiser_loss_leaves_d_untouched():
    obj, real, _ = setup()
    before = copy.deepcopy(obj.D.state_dict())
    fr = obj.D.features(real)
    loss = obj.aux_losses(fr)["R"][0]
    loss.backward()
    obj.opt["R"].step()
    assert all(p.grad is None for p in obj.D.parameters())
    assert all(torch.equal(before[k], v) for k, v in obj.D.state_dict().items()
               if "running" not in k and "num_batches" not in k)


def test_denoiser_learns_the_score_direction():
    """For h ~ N(μ, s²I) the score is -(h - μ)/s²: r(h) - h must point that way."""
    torch.manual_seed(0)
    n, s = 16, 1.0
    mu = torch.randn(n) * 3
    R = Denoiser(n, depth=2, width=64)
    opt = torch.optim.Adam(R.parameters(), lr=2e-3)
    for _ in range(1500):
        h = mu + s * torch.randn(256, n)
        opt.zero_grad()
        denoising_loss(R, h, sigma=1.0).backward()
        opt.step()
    R.eval()
    h = mu + s * torch.randn(2000, n)
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(R(h) - h, mu - h, dim=1)
    assert cos.mean() > 0.9, cos.mean()


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("scheme", ["alternating", "simultaneous"])
def test_one_step_of_each_objective(name, scheme):
    from dfmgan.errors import ConfigError

    if scheme not in OBJECTIVES[name].schemes:  # declared by the objective: refused, not run
        with pytest.raises(ConfigError):
            setup(name, scheme)
        return
    obj, real, z = setup(name, scheme)
    before = {k: copy.deepcopy(m.state_dict()) for k, m in obj.modules().items()}
    k = obj.d_steps  # the batches one step takes (WGAN-GP's critic steps), stacked
    stats = obj.step(real.repeat(k, 1, 1, 1), z.repeat(k, 1))
    assert {"loss/D", "loss/G", "D(x)", "D(G(z))"} <= set(stats)
    assert all(torch.isfinite(v) for v in stats.values())
    for k, m in obj.modules().items():
        after = m.state_dict()
        assert any(not torch.equal(before[k][n], after[n]) for n in after if "weight" in n), k
    if name == "dfm":
        assert {"dfm/denoiser_loss", "dfm/residual_gen", "loss/G_adv"} <= set(stats)
        assert set(obj.modules()) == {"G", "D", "R"}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_schemes_differ_exactly_as_specified(name):
    """Simultaneous: G's gradient is taken against D_t (and r_t). Alternating: against
    D_{t+1} (and r_{t+1}), the networks after their own updates this step."""
    for scheme in OBJECTIVES[name].schemes:
        obj, real, z = setup(name, scheme)
        if obj.d_steps != 1:  # WGAN-GP's critic steps: tests/test_wgan_gp.py
            pytest.skip(f"{name} takes {obj.d_steps} D steps per G step on stacked batches")
        G0 = copy.deepcopy(obj.G)
        pre = {k: copy.deepcopy(m) for k, m in obj.modules().items()}
        torch.manual_seed(3)
        obj.step(real, z)
        ref = pre if scheme == "simultaneous" else {k: copy.deepcopy(m) for k, m in obj.modules().items()}
        ref_obj = copy.copy(obj)  # same loss code, reference networks
        for k, m in ref.items():  # D, and any trainee of the objective's own (DFM's R)
            if k != "G":
                setattr(ref_obj, k, m)
        loss, _ = ref_obj.g_loss(ref["D"].features(G0(z)), ref["D"].features(real))
        loss.backward(inputs=list(G0.parameters()))
        for p, q in zip(obj.G.parameters(), G0.parameters()):
            assert torch.allclose(p.grad, q.grad, **ATOL), scheme


def test_fm_loss_is_the_squared_distance_of_feature_means():
    obj, real, z = setup("fm")
    fr, ff = obj.D.features(real), obj.D.features(obj.G(z))
    loss, _ = obj.g_loss(ff, fr)
    a, b = phi(fr, -1).mean(0), phi(ff, -1).mean(0)
    assert loss.item() == pytest.approx(sum((x - y) ** 2 for x, y in zip(a.tolist(), b.tolist())), rel=1e-5)


def test_sigma_annealing():
    from dfmgan.models import annealed_sigma

    assert annealed_sigma(1.0, 0, 500) == 1.0
    assert annealed_sigma(1.0, 100, 25) == pytest.approx(0.75)
    assert annealed_sigma(1.0, 100, 250) == 0.0


def test_feature_layer_choice():
    obj, real, z = setup(feature_layer=0)
    assert obj.R.n_in == 4 * 14 * 14
    assert all(torch.isfinite(v) for v in obj.step(real, z).values())
    with pytest.raises(Exception, match="feature_layer 5"):
        setup(feature_layer=5)


class LinearD(torch.nn.Module):
    """D(x) = w·x with Φ(x) = x: both terms' gradients at x have a closed form."""

    def __init__(self, n: int):
        super().__init__()
        self.w, self.n = torch.nn.Parameter(torch.randn(n)), n

    def feature_dims(self):
        return [self.n]

    def features(self, x, labels=None):
        from dfmgan.models import DFeatures

        f = x.flatten(1)  # (B, n)
        return DFeatures(f @ self.w, [f], x)


def linear_setup(**over):
    torch.manual_seed(0)
    G, D = torch.nn.Linear(3, 12), LinearD(12)
    ocfg = ObjectiveConfig(name="dfm", scheme="simultaneous",
                           own={"denoiser": {"depth": 1, "width": 16}, **over})
    obj = build_objective(G, D, ocfg, OptimConfig())
    x = torch.randn(5, 12, requires_grad=True)  # stands for G(z), (B, n)
    with torch.no_grad():
        target = obj.R(x)  # r(Φ(x)): the constant target, in the same BatchNorm mode
    return obj, x, target


def hand_norms(obj, x, target):
    """‖∂L_dfm/∂x‖ = ‖2(x - r)‖/B and ‖∂L_adv/∂x‖ = ‖-σ(-w·x_b) w‖/B, by hand."""
    B, w = len(x), obj.D.w.detach()
    g_dfm = (2 * (x.detach() - target) / B).norm()
    g_adv = (-torch.sigmoid(-(x.detach() @ w))[:, None] * w[None] / B).norm()
    return g_dfm, g_adv


def test_gradient_ratio_matches_a_hand_computation():
    obj, x, target = linear_setup()
    obj.diagnose = True
    _, stats = obj.g_loss(obj.D.features(x), None)
    g_dfm, g_adv = hand_norms(obj, x, target)
    assert float(stats["dfm/grad_ratio"]) == pytest.approx(float(obj.lambda_denoise * g_dfm / g_adv), rel=1e-5)
    obj.diagnose = False
    assert "dfm/grad_ratio" not in obj.g_loss(obj.D.features(x), None)[1]  # unlogged steps


def test_gradient_share_sets_lambda_every_step():
    obj, x, target = linear_setup(grad_share=0.3)
    loss, stats = obj.g_loss(obj.D.features(x), None)
    g_dfm, g_adv = hand_norms(obj, x, target)
    assert float(stats["dfm/lambda"]) == pytest.approx(float(0.3 * g_adv / g_dfm), rel=1e-5)
    assert float(stats["dfm/grad_ratio"]) == pytest.approx(0.3, rel=1e-6)
    # and the loss G steps on carries exactly that λ: its gradient at x is the weighted sum
    (g,) = torch.autograd.grad(loss, x)
    g_sep = [torch.autograd.grad(t, x, retain_graph=True)[0] for t in
             ((x - target).pow(2).sum(1).mean(), torch.nn.functional.softplus(-(x @ obj.D.w)).mean())]
    assert torch.allclose(g, stats["dfm/lambda"] * g_sep[0] + g_sep[1], atol=1e-6)


def test_lambda_scale_multiplies_the_papers_lambda():
    obj, _, _ = setup(lambda_scale=1000.0)
    assert obj.lambda_denoise == pytest.approx(1000 * 0.03 / (8 * 7 * 7))
    obj, _, _ = setup(lambda_scale=1000.0, lambda_denoise=2e-5)  # an explicit λ: as given
    assert obj.lambda_denoise == 2e-5
    with pytest.raises(Exception, match=r"objective\.dfm\.grad_share must be in 0\.0\.\."):
        setup(grad_share=-1.0)
