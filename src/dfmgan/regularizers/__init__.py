"""Terms added to D's loss whatever the objective, loss family and update scheme: the
D-side counterpart of DFM and feature matching, which add to G's loss.

Each term is one class in its own module of this package, registered by
``@register_term`` under its ``name``, which is also its setting (``objective.NAME``, the
weight γ; 0 = off) and its flag (``--NAME``). ``every`` (``objective.reg_every``) makes
every term lazy (StyleGAN2, Karras et al. 2020, §B): it is computed on one D step in
``every`` and multiplied by ``every`` there, so its gradient summed over any ``every``
consecutive D steps is the eager term's summed over the same steps, for equal inputs.

The package sits below ``config``, which reads the names, and imports torch only when a
term is computed, so reading a config stays light."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..discovery import class_registry, discover

if TYPE_CHECKING:
    import torch

TERMS, register_term = class_registry()  # objective.NAME = γ, --NAME γ
RANGE = (0.0, 1e6)  # of every term's γ
EVERY_RANGE = (1, 10_000)  # of objective.reg_every

View = Callable[["torch.Tensor"], "torch.Tensor"]  # images (B, C, H, W) -> D's logits (B,)


class Term:
    """γ · ``penalty``: a D-side term. ``side`` says which batch it reads."""

    name = ""
    summary = ""  # one line for --help and the docs
    cites = ""  # BibTeX of its paper (cites.bib)
    side = "real"  # "real": x; "generated": G(z), detached

    def __init__(self, gamma: float):
        self.gamma = gamma

    def penalty(self, view: View, images: "torch.Tensor") -> "torch.Tensor":
        """A 0-d tensor, differentiable in D's parameters."""
        raise NotImplementedError


def grad_sq_norm(view: View, images: "torch.Tensor") -> "torch.Tensor":
    """(B,): ‖∇ₓ D(x)‖² of each image, with the graph kept so that D's parameters get the
    gradient of the penalty (a double backward)."""
    import torch

    x = images.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(view(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


class Terms:
    """The terms a config switches on, applied on D's steps: ``__call__`` returns (γ-weighted
    sum, stats) or (None, {}) on a step where none is due."""

    def __init__(self, gammas: dict, every: int = 1):
        discover(__name__)
        self.terms = [TERMS[k](float(g)) for k, g in sorted(gammas.items()) if g]
        self.every, self.count = every, 0  # D steps seen, for the lazy interval

    def __call__(self, view: View, x: "torch.Tensor", gen: "torch.Tensor"):
        due = self.terms and self.count % self.every == 0
        self.count += 1
        if not due:
            return None, {}
        total, stats = 0.0, {}
        for term in self.terms:
            p = term.penalty(view, x if term.side == "real" else gen)
            total = total + term.gamma * self.every * p
            stats[f"reg/{term.name}"] = p.detach()
        return total, stats

    def state_dict(self) -> dict:
        return {"count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state.get("count", 0))


def check_terms(gammas: dict, every: int, speed) -> None:
    """One line for settings the terms cannot work with, before any file: an unknown term,
    a lazy interval with no term to apply it to, torch.compile (its autograd has no double
    backward) or fp16 (the penalty's inner gradient is not loss-scaled and underflows)."""
    from ..errors import ConfigError

    discover(__name__)
    on = sorted(k for k, g in gammas.items() if g)
    unknown = sorted(set(gammas) - set(TERMS))
    if unknown:
        raise ConfigError(f"unknown D-side term(s) {', '.join(unknown)}; known: {', '.join(sorted(TERMS))}")
    if every > 1 and not on:
        raise ConfigError(f"objective.reg_every={every} spaces out D-side terms, but none is on "
                          f"(set {' or '.join('--' + k for k in sorted(TERMS))})")
    if on and speed.compile:
        raise ConfigError(f"{' and '.join(on)} {'need' if len(on) > 1 else 'needs'} a double "
                          "backward, which torch.compile does not support; leave --compile out")
    if on and speed.precision == "fp16":
        raise ConfigError(f"{' and '.join(on)} cannot be loss-scaled under fp16; use --precision bf16 or fp32")


def names() -> list[str]:
    discover(__name__)
    return sorted(TERMS)


def spelled_terms(terms: dict, complete: bool) -> dict:
    """The D-side terms as config.json spells them, ``objective.NAME: γ``; every registered
    one (0 = off) when ``complete``."""
    return {k: float(terms.get(k, 0.0)) for k in names()} if complete else dict(terms)


def terms_section(d: dict, where: str) -> dict:
    """An objective section with ``objective.NAME: γ`` of each registered term read into
    ``terms`` (a ConfigError for a γ out of range)."""
    from ..errors import ConfigError

    d = dict(d)
    terms = dict(d.pop("terms", {}) or {})
    for k in [k for k in d if k in names()]:
        v = d.pop(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not RANGE[0] <= v <= RANGE[1]:
            raise ConfigError(f"{where.removeprefix('config.')}.{k} must be in "
                              f"{RANGE[0]:g}..{RANGE[1]:g}, got {v!r}")
        terms[k] = float(v)
    d["terms"] = terms
    return d


__all__ = ["RANGE", "TERMS", "Term", "Terms", "check_terms", "grad_sq_norm", "names", "register_term",
           "spelled_terms", "terms_section"]
