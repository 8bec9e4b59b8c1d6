"""The run folder of a training run: the checks before it writes (its layout is
``layout.RunLayout``)."""
from __future__ import annotations


from ..files import atomic_write, parse_json, state_paths
from ..config import RESUMABLE, TrainConfig, differences, from_dict
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
            return from_dict(parse_json(self.config_path.read_text()), where=str(self.config_path))
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"{self.config_path} is not valid JSON: {e}") from None
        except OSError as e:
            raise ConfigError(f"cannot read {self.config_path}: {e.strerror or e}") from None

    def check_resume(self, cfg: TrainConfig) -> None:
        """Resuming with another configuration is refused, naming what differs."""
        diff = differences(self.saved_config(), cfg)
        if diff:
            raise ConfigError(
                f"cannot resume {self.path} with a different config ({'; '.join(diff)}). A "
                f"resume may change only {', '.join(sorted(RESUMABLE))}. To branch, start a "
                f"new run from this one's settings: dfmgan train --config "
                f"{self.config_path} --out NEW_RUN, plus the changed flags")

    def check_layout(self) -> None:
        """Each of the run's own folders and files is what it should be: a folder where the
        layout has a folder, a regular file where it has a file (never a link or a device),
        so a resume cannot mistake a damaged run for one with nothing saved yet."""
        from ..outputs import special_kind, shown

        for folder in (self.checkpoints, self.samples, self.best):
            kind = special_kind(folder) or (None if not folder.exists() or folder.is_dir() else "file")
            if kind:
                raise ConfigError(f"{shown(folder)} is a {kind}, not the run's folder; the run "
                                  "cannot be resumed safely (move it away to start from step 0)")
        for path in (self.config_path, self.stats):
            kind = special_kind(path) or ("folder" if path.is_dir() else None)
            if kind:
                raise ConfigError(f"{shown(path)} is a {kind}, not the run's own file")

    def write_config(self, cfg: TrainConfig) -> None:
        """On resume: the config (e.g. a longer --steps), and the run's own folders where a
        kill cut the run short before making them (check_layout has refused impostors)."""
        self.samples.mkdir(parents=True, exist_ok=True)
        atomic_write(self.config_path, cfg.to_json().encode())
