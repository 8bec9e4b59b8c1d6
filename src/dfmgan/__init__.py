"""dfmgan: DCGAN (Radford et al. 2016) and Denoising Feature Matching
(Warde-Farley & Bengio 2017) in PyTorch."""
from .config import TrainConfig
from .data import load_dataset
from .presets import build_config
from .snapshot import load_generator

__version__ = "0.1.0"


def train(cfg: TrainConfig, out, resume: bool = False, progress: bool = True):
    """Train ``cfg`` into run folder ``out`` (see ``dfmgan.training.train``)."""
    from .training import train as _train

    return _train(cfg, out, resume=resume, progress=progress)


__all__ = ["TrainConfig", "build_config", "load_dataset", "load_generator", "train"]
