"""The one interface the training loop calls.

An objective owns the losses of its networks and their updates (cf. stylegan3's
``loss.accumulate_gradients``): the loop hands it a real batch and latents and gets
back detached scalar statistics. The two update schemes live here once:

* ``alternating`` (DCGAN): D steps on (x, G(z)); any extra trainee (DFM's denoiser)
  steps on features of the updated D; then G steps against the updated networks.
* ``simultaneous`` (DFM, Alg. 1): every loss is computed with all parameters as they
  are, each network's gradient is taken of its own loss only, then all step. One G
  forward and one D pass per source serve every loss.

Subclasses say only what differs: G's loss (``g_loss``) and any extra trainees with
their losses (``add_trainee`` + ``aux_losses``). Real and generated batches always go
through D in separate passes, so BatchNorm statistics are per source.

Under several processes each network's own gradient is averaged over ranks right
before its optimizer step (``distributed.average_gradients``), so D and the denoiser
never receive gradient from G's loss on any rank.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import torch
from torch import nn

from ..config import ObjectiveConfig, OptimConfig, check_ranges, flatten, from_dict
from ..discovery import class_registry
from ..distributed import average_gradients
from ..errors import ConfigError
from ..models.interface import DFeatures, DiscriminatorLike, GeneratorLike
from ..regularizers import Terms
from .adversarial import ADVERSARIAL, family
from .augment import Augment

Stats = dict[str, torch.Tensor]
SCHEMES = ("alternating", "simultaneous")
OBJECTIVES, register_objective = class_registry()  # --objective NAME trains the class


def adam(module: nn.Module, cfg: OptimConfig) -> torch.optim.Adam:
    """Adam with its fused kernel where the parameters allow: one pass over each tensor
    instead of about ten (on the CPU, torch's default is a per-tensor loop). That made a
    DFM step 1.2x faster on the CPU, where Adam over the denoiser's 12.6M weights took
    a fifth of the step. The result is allclose to the loop's, not bitwise."""
    params = list(module.parameters())
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda")
                                 for p in params)
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``modules`` inside the block: G's loss then cannot
    leave gradients in D (or the denoiser), and the weight-gradient work is skipped."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def part(t: torch.Tensor | None, k: int, i: int) -> torch.Tensor | None:
    """The i-th of k equal batches stacked in ``t`` (``t`` itself when k is 1)."""
    return t if t is None or k == 1 else t.chunk(k)[i]


def logits_of(view: DFeatures | None) -> torch.Tensor | None:
    """D's logits (B,) of a view, or None where the scheme did not take one."""
    return view.logits if view is not None else None


def detached(stats: Stats) -> Stats:
    return {k: v.detach() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            for k, v in stats.items()}


@dataclasses.dataclass
class NoSettings:
    """An objective with nothing of its own to set (the GAN)."""


class Objective:
    name: str = ""
    summary: str = ""  # one line for --help
    # the update scheme and loss family unless the config names them: facts of the
    # objective, so the CLI, a config file, ``from_dict`` and a bare constructor all train
    # the same thing; and what it can work with (empty: anything), checked with the
    # config's other names before any file is written
    scheme: str = "alternating"
    adversarial: str = "non-saturating"
    families: tuple[str, ...] = ()
    schemes: tuple[str, ...] = SCHEMES
    # what choosing this objective sets in other sections (the optimizer, say): a layer of
    # the resolver (``resolver.py``) above any preset, below a file and the flags, for every
    # way in; explicit settings still win. A bare constructor takes the OptimConfig it is
    # given. Its own knobs' defaults live in ``Settings`` and its scheme in ``scheme``.
    defaults: dict = {}
    needs_real_for_g = False  # G's loss reads real features (feature matching)
    shown: tuple[str, ...] = ()  # its stats worth a place on the progress bar
    cites: str = ""  # BibTeX of its paper, for an export's model card (cites.bib)
    # this objective's own settings (objective.NAME.* in files and --set), their allowed
    # ranges (flat keys inside the section: (low, high), both included) and which may be null
    Settings: type = NoSettings
    RANGES: dict[str, tuple[float, float]] = {}
    NULLABLE: frozenset[str] = frozenset()

    @classmethod
    def resolve(cls, cfg: ObjectiveConfig) -> tuple[str, str]:
        """(scheme, family) this objective trains with under ``cfg``: its own where the
        config names none; one line for a pair it cannot work with."""
        scheme, adv = cfg.scheme or cls.scheme, cfg.adversarial or cls.adversarial
        if scheme not in SCHEMES:
            raise ConfigError(f"unknown update scheme {scheme!r}; use {' or '.join(SCHEMES)}")
        if scheme not in cls.schemes:
            raise ConfigError(f"objective {cls.name!r} trains with the {' or '.join(cls.schemes)} "
                              f"scheme, not {scheme!r}")
        if cls.families and adv not in cls.families:
            raise ConfigError(f"objective {cls.name!r} needs the {' or '.join(cls.families)} loss "
                              f"family, not {adv!r}; leave --adversarial out")
        fam = ADVERSARIAL.get(adv) if isinstance(adv, str) else None
        if fam is not None and fam.objectives and cls.name not in fam.objectives:
            raise ConfigError(f"the {adv} loss family works with the {' or '.join(fam.objectives)} "
                              f"objective, not {cls.name!r}")
        return scheme, adv

    @classmethod
    def settings(cls, own: dict):
        """``own`` (objective.NAME as a mapping) typed, defaults filled, ranges checked."""
        where = f"objective.{cls.name}"
        typed = from_dict(own, cls.Settings, where)
        check_ranges(flatten(dataclasses.asdict(typed)), cls.RANGES, cls.NULLABLE, f"{where}.")
        return typed

    @classmethod
    def check(cls, own, cfg) -> None:
        """Constraints between the objective's typed own settings ``own`` and the rest of
        the config ``cfg`` (D's depth, say): one line for the first broken, raised by the
        resolver before any file or data. None by default."""

    def __init__(self, G: GeneratorLike, D: DiscriminatorLike, cfg: ObjectiveConfig,
                 optim: OptimConfig):
        self.scheme, adv = self.resolve(cfg)
        self.G, self.D, self.cfg, self.optim_cfg = G, D, cfg, optim
        self.own = self.settings(cfg.own)  # this objective's Settings
        self.adv = family(adv)  # D's loss and G's adversarial term
        self.augment = Augment(cfg.augment)  # DiffAugment before every D pass (or none)
        self.terms = Terms(cfg.terms, cfg.reg_every)  # D-side terms: R1, R2 (or none)
        self.reg_stats: Stats = {}  # their last values, shown until computed again
        self.nets: dict[str, nn.Module] = {"G": G, "D": D}
        self.opt = {"G": adam(G, optim), "D": adam(D, optim)}
        self.t = 0  # steps taken, for schedules
        self.diagnose = False  # set by the loop on steps whose statistics are logged
        self.amp: torch.dtype | None = None  # autocast dtype (training/speed.py)
        self.scaler = torch.amp.GradScaler(enabled=False)
        self.device_type = "cpu"

    def set_precision(self, dtype: torch.dtype | None, device: torch.device) -> None:
        """Run the forward passes under autocast in ``dtype``; fp16 scales the losses."""
        self.amp, self.device_type = dtype, device.type
        self.scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def add_trainee(self, name: str, module: nn.Module) -> nn.Module:
        """Another network this objective trains with its own loss and optimizer."""
        module.to(next(self.D.parameters()).device)
        self.nets[name], self.opt[name] = module, adam(module, self.optim_cfg)
        return module

    def modules(self) -> dict[str, nn.Module]:
        """Every network this objective trains; all are saved in checkpoints."""
        return dict(self.nets)

    # --- what subclasses define -------------------------------------------------
    def g_loss(self, fake: DFeatures, real: DFeatures | None) -> tuple[torch.Tensor, Stats]:
        """G's loss from D's view of G(z) (and of x when ``needs_real_for_g`` or the
        family's ``needs_real``)."""
        return self.adv.g_loss(fake.logits, logits_of(real)), {}

    def aux_losses(self, real: DFeatures) -> dict[str, tuple[torch.Tensor, Stats]]:
        """Losses of the extra trainees, by name, from D's view of real data."""
        return {}

    def d_loss(self, real: DFeatures, fake: DFeatures, x: torch.Tensor, gen: torch.Tensor,
               labels: torch.Tensor | None) -> torch.Tensor:
        """D's loss from its views of x (B, C, H, W) and G(z) (detached): the family's, to
        which an objective may add a regulariser (WGAN-GP's gradient penalty)."""
        return self.adv.d_loss(real.logits, fake.logits)

    @property
    def d_steps(self) -> int:
        """D's steps per G step, each on a batch of its own (WGAN-GP's n_critic): the loop
        hands ``step`` this many batches, stacked along the batch dimension."""
        return 1

    def advice(self, means: dict) -> tuple[str, str] | None:
        """(kind, one line) when a log window's means show this objective working against
        its purpose; the loop prints each kind once while it lasts. None: all is well."""
        return None

    # --- the update -------------------------------------------------------------
    def view(self, x: torch.Tensor, labels: torch.Tensor | None) -> DFeatures:
        """D's view of a batch: every D pass, real or generated, goes through here, so
        DiffAugment (when on) transforms each one, differentiably."""
        return self.D.features(self.augment(x), labels)

    def step(self, real: torch.Tensor, z: torch.Tensor,
             labels: torch.Tensor | None = None) -> Stats:
        """One step on real (B, C, H, W) in [-1, 1] and z (B, nz). Returns detached 0-d
        tensors (no host sync per step)."""
        run = self._simultaneous if self.scheme == "simultaneous" else self._alternating
        with torch.autocast(self.device_type, dtype=self.amp, enabled=self.amp is not None):
            stats = run(real, z, labels)
        self.scaler.update()
        self.t += 1
        return detached(stats)

    def _simultaneous(self, real, z, labels) -> Stats:
        fake = self.G(z, labels)  # (B, C, H, W): the one G forward of the step
        fr, ff = self.view(real, labels), self.view(fake, labels)
        loss_d = self.regularized(self.d_loss(fr, ff, real, fake.detach(), labels),
                                  real, fake.detach(), labels)
        loss_g, g_stats = self.g_loss(ff, fr)
        aux = self.aux_losses(fr)
        losses = {"D": loss_d, "G": loss_g, **{k: v[0] for k, v in aux.items()}}
        for opt in self.opt.values():
            opt.zero_grad(set_to_none=True)
        for name, loss in losses.items():  # each network: the gradient of its own loss only
            self.scaler.scale(loss).backward(inputs=list(self.nets[name].parameters()),
                                             retain_graph=True)
        for name, opt in self.opt.items():
            average_gradients(self.nets[name])  # across processes; a no-op for one
            self.scaler.step(opt)
        return self._stats(loss_d, loss_g, fr, ff, g_stats, aux)

    def regularized(self, loss_d: torch.Tensor, x: torch.Tensor, gen: torch.Tensor,
                    labels: torch.Tensor | None) -> torch.Tensor:
        """D's loss plus the D-side terms due on this D step (``regularizers``), each on
        its own pass of D through ``view``; x and G(z) (B, C, H, W), G(z) detached."""
        reg, stats = self.terms(lambda t: self.view(t, labels).logits, x, gen)
        self.reg_stats.update(stats)
        return loss_d if reg is None else loss_d + reg

    def _update(self, name: str, loss: torch.Tensor) -> None:
        self.opt[name].zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward(inputs=list(self.nets[name].parameters()))
        average_gradients(self.nets[name])  # across processes; a no-op for one
        self.scaler.step(self.opt[name])

    def _d_steps(self, real, z, labels):
        """D's ``d_steps`` updates, each on its own batch of the k stacked ones; the last
        batch's (real, labels, G(z), views, D's loss) serve r's and G's steps."""
        k = self.d_steps
        for i in range(k):
            x, zi, li = (part(t, k, i) for t in (real, z, labels))
            fake = self.G(zi, li)  # one G forward serves both updates
            fr, ff = self.view(x, li), self.view(fake.detach(), li)
            loss_d = self.regularized(self.d_loss(fr, ff, x, fake.detach(), li), x,
                                      fake.detach(), li)
            self._update("D", loss_d)
        return x, li, fake, fr, ff, loss_d

    def _alternating(self, real, z, labels) -> Stats:
        real, labels, fake, fr, ff, loss_d = self._d_steps(real, z, labels)
        extras = [m for k, m in self.nets.items() if k not in ("G", "D")]
        fr_new = None
        if extras or self.needs_real_for_g or self.adv.needs_real:
            with torch.no_grad():  # the updated D's view of x, for r's step and G's loss
                fr_new = self.view(real, labels)
        aux = self.aux_losses(fr_new) if extras else {}
        for name, (loss, _) in aux.items():
            self._update(name, loss)
        with frozen(self.D, *extras):  # G's step leaves no gradient in D or r
            ff_g = self.view(fake, labels)
            loss_g, g_stats = self.g_loss(ff_g, fr_new)
        self._update("G", loss_g)
        return self._stats(loss_d, loss_g, fr, ff, g_stats, aux)

    def _stats(self, loss_d, loss_g, fr, ff, g_stats, aux) -> Stats:
        out = {"loss/D": loss_d, "loss/G": loss_g, **self.adv.d_stats(fr.logits, ff.logits),
               **g_stats, **self.reg_stats}
        for _, s in aux.values():
            out.update(s)
        return out

    # --- state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"modules": {k: m.state_dict() for k, m in self.nets.items()},
                "optimizers": {k: o.state_dict() for k, o in self.opt.items()},
                "t": self.t, "terms": self.terms.state_dict()}

    def adopt_optim(self, optim: OptimConfig) -> None:
        """A branched run's own learning rate and betas over those its state was saved
        with (Adam's moments are kept)."""
        for o in self.opt.values():
            for group in o.param_groups:
                group["lr"], group["betas"] = optim.lr, (optim.beta1, optim.beta2)

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.opt.items():
            o.load_state_dict(state["optimizers"][k])
        self.t = int(state.get("t", 0))
        self.terms.load_state_dict(state.get("terms") or {})
