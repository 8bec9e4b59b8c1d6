"""The run folder of a training run: the checks before it writes (its layout is
``layout.RunLayout``)."""
from __future__ import annotations

import json

from ..files import atomic_write, state_paths
from ..config import TrainConfig, differences, from_dict
from ..errors import ConfigError
from ..layout import RunLayout


class RunDir(RunLayout):
    def is_run(self) -> bool:
        return self.config_path.exists() or bool(state_paths(self.path))

    def create(self, cfg: TrainConfig) -> None:
        """A new run: refuses a folder that already holds one (``train`` has checked that
        it can write there, with ``files.writable_folder``, before loading anything)."""
        if self.is_run():
            raise ConfigError(f"{self.path} already holds a run; continue it with --resume "
                              f"{self.path} or choose another --out")
        try:
            self.samples.mkdir(parents=True, exist_ok=True)
            atomic_write(self.config_path, cfg.to_json().encode())
        except OSError as e:
            raise ConfigError(f"cannot write to output folder {self.path}: "
                              f"{e.strerror or e}") from None

    def saved_config(self) -> TrainConfig:
        if not self.config_path.exists():
            raise ConfigError(f"{self.path} is not a dfmgan run (no config.json)")
        try:
            return from_dict(json.loads(self.config_path.read_text()), where=str(self.config_path))
        except ValueError as e:
            raise ConfigError(f"{self.config_path} is not valid JSON: {e}") from None

    def check_resume(self, cfg: TrainConfig) -> None:
        """Resuming with another configuration is refused, naming what differs."""
        diff = differences(self.saved_config(), cfg)
        if diff:
            raise ConfigError(f"cannot resume {self.path} with a different config ({'; '.join(diff)})")

    def write_config(self, cfg: TrainConfig) -> None:
        atomic_write(self.config_path, cfg.to_json().encode())  # e.g. a longer --steps
