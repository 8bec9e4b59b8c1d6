"""Denoising Feature Matching (Warde-Farley & Bengio, ICLR 2017).

Eq. 4, the denoiser r, trained on real features only, detached from D:
    L_r = || Φ(x) - r(C(Φ(x))) ||²,   C(h) = h + σ ε
Eq. 5, the generator, with r's output held as a constant target:
    L_G = λ_denoise || Φ(G(z)) - r(Φ(G(z))) ||² - λ_adv log D(G(z))
with λ_denoise = 0.03 / n_h by default (n_h = dim Φ) and λ_adv = 1. Since
r(h) - h estimates σ² ∂ log p(h)/∂h, the first term pulls G's features toward higher
density under the real features' distribution. D is trained as in the GAN.

Not in the paper, and off unless asked for:
* ``lambda_scale`` multiplies the paper's λ_denoise = 0.03 / n_h (1,000 by default, see
  ``defaults``); an explicit ``lambda_denoise`` is used as given;
* ``grad_share = ρ`` sets λ anew every step so that the DFM term's gradient at the
  generated images x = G(z) has ρ times the norm of the adversarial term's,
  λ = ρ ‖∇ₓ λ_adv L_adv‖ / ‖∇ₓ L_dfm‖, a constant within the step (in the spirit of the
  adaptive weight of Esser et al. 2021, which balances gradients at G's last layer).
On logged steps (and every step under ``grad_share``) ``dfm/grad_ratio`` records
‖∇ₓ λ L_dfm‖ / ‖∇ₓ λ_adv L_adv‖: at the paper's λ on Fashion-MNIST it is about 5e-4."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..cites import ICLR, bib
from ..models import Denoiser, annealed_sigma, corrupt
from .base import Objective, logits_of, register_objective
from .features import FEATURE_LAYER, LAYER_RANGE, ReadsFeatures, feature_dim, phi


@dataclass
class DenoiserConfig:
    """DFM's denoiser r (Warde-Farley & Bengio 2017, §3): an MLP on Φ(x)."""

    depth: int = 2  # hidden layers (the paper's ImageNet model: 10)
    width: int = 0  # hidden units; 0 = Φ's size (the paper: any width >= it works)
    sigma: float = 1.0  # Gaussian corruption C(Φ) = Φ + σ ε
    anneal_steps: int = 0  # > 0: σ decays linearly to 0 over this many steps
    # issue 30's cost levers, off by default (BENCHMARKS.md, "DFM's cost by denoiser width"):
    every: int = 1  # r trains on every k-th step only; G reads it every step
    bf16: bool = False  # r's forward passes under bfloat16 autocast (its weights stay fp32)


@dataclass
class DFMSettings:
    """objective.dfm.*: the paper's values, except ``lambda_scale`` (see ``DFMObjective``)."""

    lambda_denoise: float | None = None  # None = lambda_scale × 0.03 / n_h (DFM §4)
    # multiplies the paper's λ = 0.03 / n_h: 1 is the paper's; 1000, the default, is where G
    # feels the denoiser (BENCHMARKS.md, "Where DFM earns its place")
    lambda_scale: float = 1000.0
    # > 0: λ is set every step so that the DFM term's gradient at G(z) is this share of the
    # adversarial term's (cf. the adaptive weight of Esser et al. 2021); 0 = λ by value
    grad_share: float = 0.0
    lambda_adv: float = 1.0  # weight of the adversarial term (eq. 5)
    feature_layer: int = FEATURE_LAYER  # which D block is Φ (features.py)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)


LOW_RATIO, HIGH_RATIO = 0.05, 5.0  # dfm/grad_ratio outside these over a log window: a warning


@register_objective
class DFMObjective(ReadsFeatures, Objective):
    shown = ("dfm/grad_ratio",)  # how strongly G feels the denoiser (issue 31)
    name = "dfm"
    cites = bib("wardefarley2017dfm", "Improving Generative Adversarial Networks with Denoising "
                "Feature Matching", "Warde-Farley, David and Bengio, Yoshua", ICLR, 2017)
    summary = ("denoising feature matching (Warde-Farley & Bengio 2017): + λ||Φ - r(Φ)||² "
               "on D's features; simultaneous updates, Adam 2e-4 and λ 1,000x the paper's "
               "(the paper's: --lr 1e-4 --set objective.dfm.lambda_scale=1)")
    # All three networks updated simultaneously, as in DFM §4. Departing from the paper
    # (Adam 1e-4, λ = 0.03/n_h): Adam 2e-4 (the DCGAN default every objective starts from)
    # and λ x1,000 (DFMSettings.lambda_scale), where G feels the denoiser (its gradient 0.44
    # of the adversarial term's, against 5e-4 at the paper's λ). Over 3 seeds this beat the
    # paper's λ and its update-scheme control on Fashion-MNIST (FID) and stacked
    # Fashion-MNIST (modes, KL); BENCHMARKS.md, "Where DFM earns its place". Both live on
    # the objective, so `--objective dfm`, a config file, ``config.from_dict`` and
    # ``DFMObjective(G, D, ObjectiveConfig("dfm"), OptimConfig())`` train the same DFM.
    scheme = "simultaneous"
    # One checkpoint kept, not 3: with its denoiser and r's Adam moments a DFM state is about
    # 25x a GAN's (159 MB against 6 MB at the fashion-mnist preset), and 3 of them filled
    # 480 MB. A checkpoint is written whole before the old one goes, so a kill at any moment
    # still resumes bit for bit; what is lost is the older fallbacks (--keep 3 keeps them).
    defaults = {"keep": 1}
    Settings = DFMSettings
    RANGES = {"lambda_denoise": (0.0, 1e6), "lambda_scale": (0.0, 1e9),
              "grad_share": (0.0, 1e6), "lambda_adv": (0.0, 1e6),
              **LAYER_RANGE, "denoiser.depth": (1, 64),
              "denoiser.width": (0, 65_536), "denoiser.sigma": (0.0, 1e6),
              "denoiser.anneal_steps": (0, 10 ** 12), "denoiser.every": (1, 10 ** 6)}
    NULLABLE = frozenset({"lambda_denoise"})

    def __init__(self, G, D, cfg, optim):
        super().__init__(G, D, cfg, optim)
        own = self.own
        n_h = feature_dim(D, own.feature_layer)
        self.R = self.add_trainee("R", Denoiser(n_h, own.denoiser.depth, own.denoiser.width))
        # an explicit λ_denoise is used as given; lambda_scale scales the paper's 0.03 / n_h
        lam = own.lambda_denoise
        self.lambda_denoise = float(lam) if lam is not None else 0.03 / n_h * own.lambda_scale

    def g_loss(self, fake, real):
        h = phi(fake, self.own.feature_layer)  # (B, n_h), differentiable in G
        with torch.no_grad():  # r(Φ(G(z))): a constant target, own BatchNorm pass
            target = self.r(h.detach())
        sq = (h - target).pow(2).sum(1)  # (B,) ||Φ - r(Φ)||²
        adv = self.own.lambda_adv * self.adv.g_loss(fake.logits, logits_of(real))
        lam, stats = self.lambda_denoise, {}
        if self.own.grad_share > 0 or self.diagnose:
            lam, stats = self.weigh(fake.inputs, sq.mean(), adv)
        loss = lam * sq.mean() + adv
        return loss, {"loss/G_adv": adv, "dfm/G_denoise": lam * sq.mean(),
                      "dfm/residual_gen": sq.sqrt().mean(), **stats}

    def weigh(self, x: torch.Tensor, dfm: torch.Tensor, adv: torch.Tensor):
        """(λ for this step, stats) from the two terms' gradients at x = G(z) (B, C, H, W)."""
        g_dfm, g_adv = grad_norm(dfm, x), grad_norm(adv, x)
        share = self.own.grad_share
        lam = share * g_adv / g_dfm.clamp_min(1e-30) if share > 0 else self.lambda_denoise
        stats = {"dfm/grad_ratio": lam * g_dfm / g_adv.clamp_min(1e-30)}
        if share > 0:
            stats["dfm/lambda"] = lam
        return lam, stats

    def advice(self, means: dict) -> tuple[str, str] | None:
        """G barely feels the denoiser (ratio < 0.05: a GAN with extra cost) or feels little
        else (> 5: the adversarial term drowned), over a whole log window (issue 31)."""
        r = means.get("dfm/grad_ratio")
        if r is None or LOW_RATIO <= r <= HIGH_RATIO:
            return None
        if r < LOW_RATIO:
            return "weak", (f"dfm/grad_ratio is {r:.3g} over the last log window: G hardly feels "
                            "the denoiser, so this trains like a GAN at DFM's cost; raise "
                            "objective.dfm.lambda_scale or set objective.dfm.grad_share (e.g. 0.3)")
        return "strong", (f"dfm/grad_ratio is {r:.3g} over the last log window: the denoiser's "
                          "term drowns the adversarial one; lower objective.dfm.lambda_scale or "
                          "set objective.dfm.grad_share (e.g. 0.3)")

    def r(self, h: torch.Tensor) -> torch.Tensor:
        """r(h), (B, n_h) -> (B, n_h) in fp32; under bf16 autocast where ``denoiser.bf16``
        asks. With the step's own autocast on, r runs inside it: an autocast(enabled=False)
        here would switch that off, and r's fp32 weights would meet bf16 features."""
        if not self.own.denoiser.bf16 or self.amp is not None:
            return self.R(h).float()
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.R(h).float()

    def aux_losses(self, real):
        d = self.own.denoiser
        if self.t % d.every:  # r rests this step (Adam skips a net with no gradient)
            return {}
        h = phi(real, self.own.feature_layer).detach()  # r never trains D
        sigma = annealed_sigma(d.sigma, d.anneal_steps, self.t)
        loss = denoising_loss(self.r, h, sigma)
        return {"R": (loss, {"dfm/denoiser_loss": loss, "dfm/sigma": torch.tensor(sigma)})}


def grad_norm(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """‖∂ loss / ∂x‖ over the whole batch, detached; the graph is kept for the update."""
    (g,) = torch.autograd.grad(loss, x, retain_graph=True)
    return g.detach().float().norm()


def denoising_loss(r, h: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eq. 4: || h - r(h + σ ε) ||², summed over features, averaged over the batch;
    ``r`` maps (B, n_h) -> (B, n_h)."""
    return (h - r(corrupt(h, sigma))).pow(2).sum(1).mean()
