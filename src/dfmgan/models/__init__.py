"""Networks only: no losses, no optimizers."""
from .dcgan import SIZES, DFeatures, Discriminator, Generator, NetConfig, layout

__all__ = ["SIZES", "DFeatures", "Discriminator", "Generator", "NetConfig", "layout"]
