"""The training loop. It reads in one direction: data -> objective.step -> stats,
with grids and checkpoints on a schedule. It never asks which objective it runs."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from .. import distributed
from ..checkpoint import first_nonfinite, save_state, state_bytes
from ..config import TrainConfig, differences
from ..data import ArraySource, BatchSampler, load_dataset, options_of, to_float
from ..data.batches import Prefetcher
from ..devices import resolve_device
from ..errors import CheckpointError, ConfigError, DivergedError
from ..evaluation.during import BestKeeper, TrainingEvaluator
from ..files import WriteError
from ..imageio import GRID_SCALE, grid_array, save_grid
from ..models import Discriminator, Generator
from ..objectives import build_objective
from ..resolver import complete
from ..sampling import generate
from ..snapshot_file import D_SNAPSHOT, EMA_SNAPSHOT, export_snapshot
from . import speed
from .clock import active_clock
from .ema import GeneratorEMA
from .rundir import RunDir, check_branch, checkpoint_config
from .signals import StopFlag
from .stats import DATA_WAIT, MACHINE, TRAIN_SECONDS, StatsSink

# the progress bar's fields, in this order (every value is in stats.jsonl and TensorBoard)
BAR = ("loss/D", "loss/G", "D(x)", "D(G(z))")  # then the kept eval key and the objective's own


def check_labels(source, cfg: TrainConfig) -> None:
    """A conditional net needs labels in 0..K-1 for every image."""
    k = cfg.net.n_classes
    if not k:
        return
    if source.labels is None:
        raise ConfigError(f"a conditional net needs labels; {cfg.data.name} has none")
    if int(source.labels.max()) >= k:
        raise ConfigError(f"{cfg.data.name} has labels up to {int(source.labels.max())}; "
                          f"--classes {k} is too few")


class Trainer:
    """Everything one run holds. Build it, ``restore`` a state if resuming, ``run``."""

    def __init__(self, cfg: TrainConfig, run: RunDir, progress: bool = True):
        self.cfg, self.run_dir = cfg, run
        device = resolve_device(cfg.device)
        self.world = distributed.init(device)  # World() for one process
        self.device = distributed.local_device(device, self.world)
        self.progress = progress and self.world.main
        self.source = load_dataset(cfg.data.name, cfg.data.root, cfg.data.split,
                                   cfg.net.size, cfg.net.channels, options_of(cfg.data))
        self.steps = cfg.steps if cfg.epochs is None else \
            round(cfg.epochs * (len(self.source) // cfg.batch_size))
        torch.manual_seed(cfg.seed)  # network init
        G, D = Generator(cfg.net).to(self.device), Discriminator(cfg.net).to(self.device)
        self.objective = build_objective(G, D, cfg.objective, cfg.optim)
        for m in self.objective.modules().values():
            distributed.broadcast_module(m)
        if cfg.ema < 0:
            raise ConfigError(f"ema must be a half-life in images >= 0, got {cfg.ema}")
        self.ema = GeneratorEMA(G, cfg.ema, cfg.batch_size) if cfg.ema else None
        speed.apply(cfg.speed, self.objective, self.device)
        self.step_fn = speed.guarded(self.objective.step) if cfg.speed.compile else self.objective.step
        self.G, self.D = G, D
        if cfg.batch_size % self.world.size:
            raise ConfigError(f"batch size {cfg.batch_size} is not divisible by "
                              f"{self.world.size} processes")
        self.sampler = BatchSampler(len(self.source), cfg.batch_size, cfg.seed,
                                    self.world.rank, self.world.size)
        k = self.objective.d_steps  # batches a step takes (WGAN-GP's critic steps)
        take = (lambda s: torch.cat([s.next() for _ in range(k)])) if k > 1 else BatchSampler.next
        # a set in memory is gathered in the step (microseconds; a thread's hand-off costs
        # more); one that is read from disk or decoded is gathered ahead. How the set is
        # held also says what advice a slow feed gets (advise_data).
        self.held = ("mapped" if self.source.mapped else "memory") \
            if isinstance(self.source, ArraySource) else "decoded"
        depth = cfg.speed.prefetch if cfg.speed.prefetch >= 0 else 2 * (self.device.type == "cuda")
        depth = 0 if self.held == "memory" else depth
        self.feed = Prefetcher(self.source, self.sampler, take, depth,
                               pin=self.device.type == "cuda")
        self.data_wait = 0.0  # seconds the last step waited for its batch
        self.zgen = torch.Generator().manual_seed(cfg.seed + 1)  # training latents, on CPU
        grid_gen = torch.Generator().manual_seed(cfg.seed + 2)
        self.z_grid = G.sample_latent(cfg.grid, grid_gen)
        self.grid_labels = (torch.arange(cfg.grid) % cfg.net.n_classes) if cfg.net.n_classes else None
        self.step = 0
        self.last_saved = 0  # the step of the newest checkpoint on disk
        self.bad = torch.zeros((), dtype=torch.bool, device=self.device)  # a loss not finite
        # checked every step where that is free: one process on the CPU
        self.host_checks = self.device.type == "cpu" and self.world.size == 1
        check_labels(self.source, cfg)
        if isinstance(self.source, ArraySource) and self.device.type == "cuda":
            self.source.images = self.source.images.to(self.device)  # uint8 set on the GPU
        self.evaluator = TrainingEvaluator(self.source, cfg.data.name, G, cfg.eval_n, cfg.seed,
                                           self.device, cfg.eval_metrics, cfg.eval_best,
                                           self.test_split()) \
            if cfg.eval_every and self.world.main else None
        self.best = BestKeeper(run.path)
        self.advised: set[str] = set()  # the objective's warnings in force (``advise``)

    # --- one step -----------------------------------------------------------------
    def next_batch(self):
        if self.world.size > 1:
            self.seed_rank_stream()
        k = self.objective.d_steps  # batches this step takes (WGAN-GP's critic steps)
        images, labels, self.data_wait = self.feed.next()
        real = to_float(images.to(self.device, non_blocking=True))  # (kB, C, H, W) in [-1, 1]
        real = speed.layout(real, self.cfg.speed)
        # the global batches' latents (k, B, nz), this rank's shard of each (k·B / world, nz):
        # the same z reach G as in one process, whatever the number of processes
        z = self.G.sample_latent(k * self.cfg.batch_size, self.zgen)
        w = self.world
        z = (z[w.rank::w.size] if k == 1 else z.view(k, -1, z.shape[1])[:, w.rank::w.size]
             .reshape(-1, z.shape[1])).to(self.device)
        if not self.cfg.net.n_classes:
            labels = None
        return real, z, labels.to(self.device) if labels is not None else None

    # --- state ----------------------------------------------------------------------
    def state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "z": self.zgen.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        out = {"config": self.cfg.to_json(), "objective": self.objective.state_dict(),
               "sampler": self.sampler.state_dict(), "rng": rng}
        if self.ema is not None:
            out["ema"] = self.ema.state_dict()
        return out

    def restore(self, state: dict, branch: bool = False) -> None:
        """Continue from ``state``: exactly (its config must be this run's), or as a
        ``branch``, where any setting but the networks and the objective may differ and
        the optimisers take this run's learning rate and betas."""
        saved = complete(base=checkpoint_config(state))
        if branch:
            check_branch(saved, self.cfg)
        elif diff := differences(saved, self.cfg):
            raise CheckpointError(f"checkpoint is from another configuration ({'; '.join(diff)})")
        try:
            self.objective.load_state_dict(state["objective"])
        except (KeyError, RuntimeError, ValueError) as e:
            first = str(e).splitlines()[0] if str(e) else repr(e)
            raise CheckpointError(f"checkpoint does not fit this run's networks ({first})") from None
        if branch:
            self.objective.adopt_optim(self.cfg.optim)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.sampler.load_state_dict(state["sampler"])
        self.feed.reset()
        torch.set_rng_state(state["rng"]["torch"])
        self.zgen.set_state(state["rng"]["z"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = self.last_saved = int(state["step"])

    def seed_rank_stream(self) -> None:
        """Under several processes, each rank's noise (DFM's corruption) comes from a stream
        seeded by (seed, rank, step) at every step. No rank's generator state has to be
        saved, so a resumed run draws exactly the noise an uninterrupted one would."""
        torch.manual_seed((self.cfg.seed * 7919 + self.world.rank) * 1_000_003 + self.step)

    def banner(self) -> str:
        """The first line of a run: where it runs, in what precision, on what, into where."""
        dev = self.device
        where = f"{dev} ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else \
            f"{dev} ({threads(torch.get_num_threads())}; --threads sets them)"
        if self.world.size > 1:
            where += f" x {self.world.size} processes"
        start = f"from step {self.step}" if self.step else "from scratch"
        precision = speed.resolve_precision(self.cfg.speed.precision, dev)
        if precision != self.cfg.speed.precision:
            precision = f"{self.cfg.speed.precision} -> {precision}"
        each = state_bytes(self.objective.modules(), self.ema) / 1e6
        kept = self.cfg.keep
        return (f"dfmgan train on {where}, {precision}: {self.source.description}"
                f" -> {self.run_dir.path} ({start}, {self.steps:,} steps; checkpoints "
                f"{each:,.0f} MB each, {kept} kept{f': {each * kept:,.0f} MB' if kept > 1 else ''})")

    def meta(self) -> dict:
        c = self.cfg
        return {"step": self.step, "objective": c.objective.name, "data": c.data.name,
                "preset": c.preset, "seed": c.seed,
                "image": {"fit": c.data.fit, "background": c.data.background}}

    @property
    def G_eval(self):
        """The generator that is sampled and scored: the EMA when one is kept."""
        return self.ema.net if self.ema is not None else self.G

    def save(self) -> None:
        state = self.finite_state()
        try:
            self._save(state)
        except WriteError as e:
            raise WriteError(f"{e}. The run stopped at step {self.step}; once the cause is "
                             f"fixed, continue with: dfmgan train --resume {self.run_dir.path}") from None
        self.last_saved = self.step

    def finite_state(self) -> dict:
        """The state about to be saved, after checking that every tensor in it is finite:
        BatchNorm statistics and Adam moments can overflow while every loss stays finite,
        and such a state must never become "the last good one"."""
        state = self.state()
        bad = first_nonfinite({"objective": state["objective"], "ema": state.get("ema", {})})
        if bad:
            raise DivergedError(
                f"{bad} became NaN or inf at or before step {self.step} (the losses were "
                f"finite); the run stopped and kept its last good checkpoint (step "
                f"{self.last_saved}). Try a lower learning rate, or fp32 if a lower precision was on")
        return state

    def _save(self, state: dict) -> None:
        save_state(self.run_dir.path, self.step, state, self.cfg.keep)
        export_snapshot(self.run_dir.path, self.G, self.meta())
        if self.ema is not None:
            meta = {**self.meta(), "ema": self.ema.half_life}
            export_snapshot(self.run_dir.path, self.ema.net, meta, EMA_SNAPSHOT)
        export_snapshot(self.run_dir.path, self.D, self.meta(), D_SNAPSHOT)

    def evaluate(self) -> dict:
        """``eval/KEY`` of the generator in use (the EMA when kept) and, beside an EMA,
        ``eval_raw/KEY`` of the raw G; the best state so far is kept in RUN/best."""
        scores = self.evaluator.scores(self.G_eval, self.D, self.step)
        out = {f"eval/{k}": torch.tensor(v) for k, v in scores.items()}
        if self.ema is not None:
            out.update({f"eval_raw/{k}": torch.tensor(v)
                        for k, v in self.evaluator.scores(self.G, self.D, self.step).items()})
        key = self.evaluator.best_key
        if key in scores:
            self.best.offer(self.step, key, scores[key], self.finite_state(), self.G_eval,
                            self.meta(), self.evaluator.lower_is_better)
            out[f"eval/best_{key}"] = torch.tensor(self.best.best[key])
        return out

    def write_grid(self, sink: StatsSink) -> Path:
        images = generate(self.G_eval, self.z_grid, self.grid_labels, self.cfg.sample_bn,
                          batch_size=max(len(self.z_grid), 2))
        path = save_grid(images, self.run_dir.grid(self.step), scale=GRID_SCALE)
        save_grid(images, self.run_dir.grid(), scale=GRID_SCALE)
        sink.image("samples", self.step, grid_array(images))  # TensorBoard's Images tab
        return path

    # --- the loop ---------------------------------------------------------------------
    def run(self, stop: StopFlag, sink: StatsSink) -> None:
        bar = tqdm(total=self.steps, initial=self.step, desc="train", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        self.watch = active_clock()  # wall time less stops: a paused run's pause is not training
        self.clock, self.started = (self.watch.now(), self.step), self.step
        self.tick = self.watch.now()
        while self.step < self.steps:
            signum = distributed.any_signal(stop.signum, self.device)
            if signum:  # on any rank: every rank stops here and reports it
                stop.signum = stop.signum or signum
                break
            # the objective's costlier diagnostics (DFM's gradient ratio) on logged steps only
            self.objective.diagnose = (self.step + 1) % self.cfg.log_every == 0
            stats = self.step_fn(*self.next_batch())
            stats[DATA_WAIT] = torch.tensor(self.data_wait)
            self.bad |= ~torch.isfinite(torch.stack([v for k, v in stats.items()
                                                     if k.startswith("loss/")])).all()
            if self.ema is not None:
                self.ema.update(self.G)
            self.step += 1
            if self.host_checks or self.writes_now():
                self.check_finite()  # else only before logs and saves: no sync a step on a GPU
            if self.world.main:
                self.after_step(stats, sink, bar)
        bar.close()
        self.check_finite()
        if self.world.main:
            sink.flush()
            self.write_grid(sink)
            self.save()
        distributed.barrier()  # nobody leaves (or resumes) before the checkpoint is written

    def writes_now(self) -> bool:
        """Whether this step logs, draws a grid or saves (every rank agrees)."""
        c = self.cfg
        every = (c.log_every, c.sample_every, c.checkpoint_every, c.eval_every or c.log_every)
        return any(self.step % k == 0 for k in every)

    def check_finite(self) -> None:
        """Stop the run when any loss since the last check was NaN or inf (on any rank),
        before anything is saved: the last good checkpoint stays the newest."""
        if distributed.any_signal(int(self.bad), self.device):
            raise DivergedError(
                f"a loss became NaN or inf at or before step {self.step}; the run stopped and "
                f"kept its last good checkpoint (step {self.last_saved}). Try a lower learning "
                f"rate, or fp32 if a lower precision was on")

    def advise(self, means: dict) -> None:
        """The objective's warning about this log window, once per kind while it lasts."""
        got = self.objective.advice({k: float(v) for k, v in means.items()})
        if got is not None and got[0] not in self.advised:
            tqdm.write(f"dfmgan: warning: {got[1]}", file=sys.stderr)
        self.advised = ({got[0]} if got is not None else set()) | (self.advised & {"data"})

    def advise_data(self, wait: float, step: float) -> None:
        """One warning while waiting for data takes over a tenth of the step: what to do. A
        set held in memory gets none (its rows are gathered in microseconds, so a wait is
        the machine's noise, and packing cannot help it); a packed file read from disk is
        told to gather further ahead; a set decoded per batch is told to pack."""
        if wait <= 0.1 * step or "data" in self.advised or self.held == "memory":
            return
        cfg = self.cfg
        todo = (f"decode the set once with `dfmgan pack SOURCE --size {cfg.net.size} --channels "
                f"{cfg.net.channels} --out DATA.dfmpack` and train with --data DATA.dfmpack"
                if self.held == "decoded" else "the packed file is read from disk: put it on a "
                "faster disk, or gather further ahead with --set speed.prefetch=8")
        tqdm.write(f"dfmgan: warning: each step waits {wait * 1e3:.0f} ms of its "
                   f"{step * 1e3:.0f} ms for data ({wait / step:.0%}); {todo}", file=sys.stderr)
        self.advised.add("data")

    def test_split(self):
        """A maker of the data's labelled test split (for metrics such as ``probe``), or None
        where the data has none."""
        from ..data import facts
        from ..evaluation.api import test_split

        cfg = self.cfg
        info = facts(cfg.data.name)
        if info is None or "test" not in info.splits:
            return None
        return lambda: test_split(cfg.data.name, cfg.data.root, cfg.net.size, cfg.net.channels,
                                  options_of(cfg.data))

    def shown(self) -> tuple[str, ...]:
        """The stats on the progress bar: the losses, the evaluation's kept key, the objective's."""
        kept = (f"eval/{self.evaluator.best_key}",) if self.evaluator is not None else ()
        return BAR + kept + tuple(self.objective.shown)

    def after_step(self, stats: dict, sink: StatsSink, bar) -> None:
        """Rank 0's bookkeeping: FID, stats, the bar, grids and checkpoints."""
        cfg = self.cfg
        evaluates = bool(cfg.eval_every) and self.step % cfg.eval_every == 0
        if evaluates or self.step % cfg.log_every == 0 or self.step == self.steps:
            now = self.watch.now()
            self.train_seconds, self.tick = self.train_seconds + now - self.tick, now
            stats[TRAIN_SECONDS] = round(self.train_seconds, 3)
            stats[MACHINE] = self.machine
        if evaluates:
            stats.update(self.evaluate())
            self.tick = self.watch.now()  # the evaluation's own time is not training's
        sink.report(self.step, stats)
        bar.update()
        first = self.step == self.started + 1  # values on the bar from the first step on
        if self.step % cfg.log_every == 0 or self.step == self.steps or first:
            means = sink.flush()
            t0, n0 = self.clock
            seconds = self.watch.now() - t0
            rate = (self.step - n0) * cfg.batch_size / seconds
            self.clock = (self.watch.now(), self.step)
            bar.set_postfix({k.replace("loss/", ""): f"{means[k]:.3f}" for k in self.shown()
                             if k in means} | {"img/s": f"{rate:.0f}"}, refresh=False)
            self.advise(means)
            if self.step > n0 and n0 > self.started + self.feed.depth:  # past the queue filling
                self.advise_data(float(means.get(DATA_WAIT, 0.0)), seconds / (self.step - n0))
        if self.step % cfg.sample_every == 0:
            self.write_grid(sink)
        if self.step % cfg.checkpoint_every == 0:
            sink.flush()  # every row up to the checkpoint is on disk before it is
            self.save()


def threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")
