"""One BibTeX entry from its parts: what each objective, loss family, D normalisation and
augmentation cites (its ``cites``), gathered into an export's model card. Imports nothing
of the package, so every layer may use it."""
from __future__ import annotations


def bib(key: str, title: str, author: str, venue: str, year: int, kind: str = "inproceedings") -> str:
    where = "booktitle" if kind == "inproceedings" else "journal"
    return (f"@{kind}{{{key},\n  title     = {{{title}}},\n  author    = {{{author}}},\n"
            f"  {where:<9} = {{{venue}}},\n  year      = {{{year}}}\n}}")


ICLR, NEURIPS = "International Conference on Learning Representations (ICLR)", \
    "Advances in Neural Information Processing Systems (NeurIPS)"
DCGAN = bib("radford2016dcgan", "Unsupervised Representation Learning with Deep Convolutional "
            "Generative Adversarial Networks", "Radford, Alec and Metz, Luke and Chintala, Soumith",
            ICLR, 2016)
GAN = bib("goodfellow2014gan", "Generative Adversarial Nets", "Goodfellow, Ian and Pouget-Abadie, "
          "Jean and Mirza, Mehdi and Xu, Bing and Warde-Farley, David and Ozair, Sherjil and "
          "Courville, Aaron and Bengio, Yoshua", NEURIPS, 2014)
R3GAN = bib("huang2024gan", "The {GAN} is dead; long live the {GAN}! A Modern {GAN} Baseline",
            "Huang, Yiwen and Gokaslan, Aaron and Kuleshov, Volodymyr and Tompkin, James",
            NEURIPS, 2024)
