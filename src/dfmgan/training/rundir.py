"""The run folder of a training run: the checks before it writes (its layout is
``layout.RunLayout``)."""
from __future__ import annotations


from ..config import BRANCH_KEEPS, RESUMABLE, TrainConfig, differences, from_dict
from ..errors import CheckpointError, ConfigError
from ..files import atomic_write
from ..layout import RunLayout, state_paths
from ..reading import parse_json


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

    def written_config(self) -> TrainConfig:
        """config.json as written, imports no torch (``dfmgan info`` answers at once)."""
        if not self.config_path.exists():
            raise ConfigError(f"{self.path} is not a dfmgan run (no config.json)")
        try:
            return from_dict(parse_json(self.config_path.read_text()), where=str(self.config_path))
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"{self.config_path} is not valid JSON: {e}") from None
        except OSError as e:
            raise ConfigError(f"cannot read {self.config_path}: {e.strerror or e}") from None

    def saved_config(self) -> TrainConfig:
        """config.json with settings added since it was written at their defaults, so it
        compares equal to the same run configured today (``resolver.complete``; its
        objective's classes, and so torch, are imported here, not with this module)."""
        from ..resolver import complete

        return complete(base=self.written_config().to_dict())

    def check_resume(self, cfg: TrainConfig) -> None:
        """Resuming with another configuration is refused, naming what differs."""
        diff = differences(self.saved_config(), cfg)
        if diff:
            shown_diff = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
            raise ConfigError(
                f"cannot resume {self.path} with a different config ({shown_diff}); a resume "
                f"may change only {', '.join(sorted(RESUMABLE))}. Branch from its last state "
                f"with dfmgan train --resume {self.path} --out NEW_RUN plus the changed flags "
                f"(not the networks, objective or data), or start afresh with dfmgan train "
                f"--config {self.config_path} --out NEW_RUN")

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

    def branch_state(self, source: "RunDir") -> dict:
        """The newest state of ``source``, for this new run to branch from."""
        from ..checkpoint import load_latest_state

        source.saved_config()  # a run, or one line saying it is not
        if self.is_run():
            raise ConfigError(f"{self.path} already holds a run; a branch starts a new folder")
        state = load_latest_state(source.path)
        if state is None:
            raise ConfigError(f"{source.path} has no checkpoint yet to branch from")
        return state

    def adopt_history(self, source: RunLayout, step: int) -> None:
        """A branch's stats.jsonl starts as ``source``'s rows up to ``step``, and
        branch.json says where it came from."""
        import json

        from .stats import read_rows

        rows = [r for r in read_rows(source.stats) if r.get("step", 0) <= step] \
            if source.stats.exists() else []
        atomic_write(self.stats, "".join(json.dumps(r) + "\n" for r in rows).encode())
        atomic_write(self.branch, json.dumps({"from": str(source.path), "step": step}).encode())

    def write_config(self, cfg: TrainConfig) -> None:
        """On resume: the config (e.g. a longer --steps), and the run's own folders where a
        kill cut the run short before making them (check_layout has refused impostors)."""
        self.samples.mkdir(parents=True, exist_ok=True)
        atomic_write(self.config_path, cfg.to_json().encode())


def check_branch(saved: TrainConfig, cfg: TrainConfig) -> None:
    """A branch may change any setting but those the saved weights must fit (BRANCH_KEEPS)."""
    kept = [d for d in differences(saved, cfg) if d.startswith(BRANCH_KEEPS)]
    if kept:
        raise CheckpointError(f"a branch keeps the networks and the objective ({'; '.join(kept)})")


def checkpoint_config(state: dict) -> dict:
    try:
        return parse_json(state["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"the checkpoint's config is not valid JSON ({e})") from None
