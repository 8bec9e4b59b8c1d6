"""Networks only: no losses, no optimizers."""
from .dcgan import SIZES, DFeatures, Discriminator, Generator, NetConfig, layout

__all__ = ["SIZES", "DFeatures", "Discriminator", "Generator", "NetConfig", "layout"]
from .denoiser import Denoiser, annealed_sigma, corrupt  # noqa: E402

__all__ += ["Denoiser", "annealed_sigma", "corrupt"]
from .mlp import MLPDiscriminator, MLPGenerator  # noqa: E402

__all__ += ["MLPDiscriminator", "MLPGenerator"]
from .autoencoder import AutoencoderConfig, HashAutoencoder  # noqa: E402

__all__ += ["AutoencoderConfig", "HashAutoencoder"]
