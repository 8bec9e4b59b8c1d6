"""Weight initialisation from DCGAN §4: "All weights were initialized from a
zero-centered Normal distribution with standard deviation 0.02"; BatchNorm scales
are drawn around 1 (γ ~ N(1, 0.02), β = 0), as in the reference DCGAN code."""
from torch import nn

STD = 0.02


def dcgan_init(module: nn.Module) -> None:
    """Apply with ``net.apply(dcgan_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.affine:
        nn.init.normal_(module.weight, 1.0, STD)
        nn.init.zeros_(module.bias)
