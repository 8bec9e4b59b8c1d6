"""Run K training steps of a Trainer, under torchrun or alone, with every BatchNorm
replaced by the identity, and save the parameters. Without BatchNorm a shard's gradient
does not depend on the rest of the batch, so N processes must give the single-process
parameters up to float summation order: the check of gradient averaging, of data and
latent sharding, and of D receiving no gradient from G's step.

    python tests/ddp_worker.py OUT SCHEME STEPS
    python -m torch.distributed.run --nproc_per_node 2 tests/ddp_worker.py OUT SCHEME STEPS"""
import sys
from pathlib import Path

import torch
from torch import nn

from dfmgan import distributed
from dfmgan.resolver import build_config
from dfmgan.training.loop import Trainer
from dfmgan.training.rundir import RunDir


def without_bn(module: nn.Module) -> None:
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())


def main() -> None:
    out, scheme, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    cfg = build_config("digits", overrides={"net": {"g_width": 8, "d_width": 8}, "batch_size": 16,
                                            "objective": {"scheme": scheme}})
    trainer = Trainer(cfg, RunDir(out / "unused"), progress=False)
    for net in trainer.objective.modules().values():
        without_bn(net)
    for _ in range(steps):
        trainer.objective.step(*trainer.next_batch())
    world = trainer.world
    torch.save({k: m.state_dict() for k, m in trainer.objective.modules().items()},
               out / f"rank{world.rank}-of{world.size}.pt")
    distributed.shutdown()


if __name__ == "__main__":
    main()
