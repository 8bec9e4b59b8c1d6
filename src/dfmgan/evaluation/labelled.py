"""Metrics of a conditional generator: are its samples the classes it was asked for?

* ``nn-error`` (DCGAN supplement, Table 3): a 1-nearest-neighbour classifier (pixels,
  scikit-learn) fitted on N labelled generated samples, its error on the real test split;
  beside it, the same classifier fitted on N real training images.
* ``cas``, the classification accuracy score (Ravuri & Vinyals 2019): the small
  classifier of the bundled feature networks, trained on the generated samples and
  tested on the real test split; beside it, the same classifier trained on N real images."""
from __future__ import annotations

import torch

from .classifier import accuracy, train_classifier
from .registry import Judged, Labelled, MetricOptions, register_metric


def nn_error(fit: Labelled, test: Labelled) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=1).fit(fit.images.flatten(1).numpy(), fit.labels.numpy())
    pred = torch.from_numpy(knn.predict(test.images.flatten(1).numpy()))
    return (pred != test.labels).double().mean().item()


@register_metric("nn-error", needs=("labelled",), better={"nn_error": "lower"},
                 during_training=False, meaning="test error of a 1-nearest-neighbour classifier on generated (image, label) pairs (DCGAN suppl.); lower is better")
def nearest_neighbour_error(j: Judged, opts: MetricOptions) -> dict:
    sets = j.labelled
    return {"nn_error": nn_error(sets.gen, sets.test), "nn_error_real": nn_error(sets.train, sets.test)}


def cas_of(fit: Labelled, test: Labelled, opts: MetricOptions) -> float:
    net = train_classifier(fit.images, fit.labels, test.images.shape[-1], opts.cas_epochs,
                           seed=opts.seed, progress=False)
    return accuracy(net, test.images, test.labels)


@register_metric("cas", needs=("labelled",), better={"cas": "higher"}, during_training=False,
                 meaning="classification accuracy score: a classifier trained on generated pairs, tested on real test data; higher is better")
def classification_accuracy_score(j: Judged, opts: MetricOptions) -> dict:
    sets = j.labelled
    return {"cas": cas_of(sets.gen, sets.test, opts), "cas_real": cas_of(sets.train, sets.test, opts)}
