from .loop import TrainResult, Trainer, resolve_device, train

__all__ = ["TrainResult", "Trainer", "resolve_device", "train"]
