"""Trains a bundled offline feature network and records its test accuracy.

    python -m dfmgan.evaluation.train_feature_net fashion-mnist
    python -m dfmgan.evaluation.train_feature_net digits
    python -m dfmgan.evaluation.train_feature_net mnist --data-root ~/mnist   # for stacked-mnist
    python -m dfmgan.evaluation.train_feature_net clipart   # openclipart + emoji, RGB

Writes ``weights/<data>.safetensors`` and ``weights/<data>.json`` (accuracy, epochs,
seed, sha256) beside this file; those files ship with the package."""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from safetensors.torch import save_file

from ..data import load_dataset
from .classifier import accuracy, feature_scale, train_classifier

WEIGHTS = Path(__file__).with_name("weights")
EPOCHS = {"fashion-mnist": 8, "digits": 60, "mnist": 8, "clipart": 40}
SIZE = {"fashion-mnist": 32, "digits": 28, "mnist": 28, "clipart": 32}  # each set's preset's
CHANNELS = {"clipart": 3}  # the rest are grey
WIDTH = {"clipart": 64}  # colour and 31 classes: twice the grey nets' 32 channels


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", choices=sorted(EPOCHS))
    ap.add_argument("--data-root", help="where the data's files are (default: its usual place)")
    ap.add_argument("--epochs", type=int, help="default: 8 (60 for digits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    size = SIZE[args.data]
    channels = CHANNELS.get(args.data, 1)
    train = load_dataset(args.data, args.data_root, split="train", size=size, channels=channels)
    test = load_dataset(args.data, args.data_root, split="test", size=size, channels=channels)
    epochs = args.epochs or EPOCHS[args.data]
    arch = {"channels": channels, "n_classes": len(train.classes),
            "width": WIDTH.get(args.data, 32)}
    t0 = time.perf_counter()
    net = train_classifier(train.images, train.labels, size, epochs, args.seed, **arch)
    acc = accuracy(net, test.images, test.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.data}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    meta = {"data": args.data, "size": size, **arch, "classes": train.classes,
            "test_accuracy": round(acc, 4),
            "feature_scale": feature_scale(net, train.images), "epochs": epochs,
            "seed": args.seed, "train_images": len(train), "test_images": len(test),
            "train_seconds": round(time.perf_counter() - t0, 1),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "trained_by": "python -m dfmgan.evaluation.train_feature_net " + args.data}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
