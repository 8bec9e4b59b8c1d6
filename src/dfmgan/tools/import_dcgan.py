"""``dfmgan import-dcgan netG.pth [--netD netD.pth] --out DIR``: the canonical DCGAN of
pytorch/examples (``dcgan/main.py``: nz 100, ngf = ndf = 64, 64 px, z ~ N(0, 1) of shape
(B, nz, 1, 1), convolutions without bias, D ending in a sigmoid) as a dfmgan snapshot
folder that every tool opens.

The two layouts agree layer for layer, which is why this is a renaming and not a
conversion:

    theirs (``main`` = nn.Sequential)          ours
    G  ConvT(nz, 8·ngf, 4, 1, 0) BN ReLU       net.0 net.1 net.2   (Generator, g_width = ngf)
       ConvT(8·ngf, 4·ngf, 4, 2, 1) BN ReLU    net.3 net.4 net.5
       ... ConvT(ngf, nc, 4, 2, 1) Tanh        net.12 (+ a bias, set to 0) net.13
    D  Conv(nc, ndf, 4, 2, 1) LReLU            blocks.0 (+ a bias, set to 0)
       Conv(ndf, 2·ndf, 4, 2, 1) BN LReLU      blocks.1 (conv, BN)          (d_width = ndf)
       ... Conv(8·ndf, 1, 4, 1, 0) Sigmoid     head (+ a bias, set to 0): their D(x) = σ(our logit)

Widths, nz, channels and size are read off the weights' shapes (a fork with ngf 32 or a
32 px net imports too). The files are read with ``torch.load(weights_only=True)``, which
runs no code; everything is checked before anything is written."""
from __future__ import annotations

from pathlib import Path

import torch

from ..digests import file_sha256
from ..snapshot_file import export_snapshot
from ..checkpoint import load_module_state
from ..errors import CheckpointError, ConfigError
from ..files import atomic_write
from ..reading import kind_of, regular
from ..layout import CONFIG, DISCRIMINATOR, GENERATOR, RunLayout, sidecar
from ..models import Discriminator, Generator
from ..models.netconfig import NetConfig
from ..outputs import check_free, shown

WRITES = [GENERATOR, sidecar(GENERATOR), DISCRIMINATOR, sidecar(DISCRIMINATOR), CONFIG]
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict saved by ``torch.save(net.state_dict(), path)``; DataParallel's
    ``module.`` prefix and a ``{"state_dict": ...}`` wrapper are taken off."""
    regular(path, f"the {what} .pth")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"{shown(path)}: no such file (the {what} .pth)") from None
    except Exception as e:  # an unpickling refusal, a truncated zip, a wrong format
        kind = kind_of(Path(path))
        why = f"it is {kind}" if kind and not kind.startswith("a zip") else str(e).splitlines()[0][:200]
        raise CheckpointError(f"cannot read {shown(path)} as a torch state dict ({why})") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{shown(path)} is not a state dict (a mapping of names to tensors)")
    problem = state_dict_problem(sd)
    if problem:
        raise CheckpointError(f"{shown(path)} is not a DCGAN state dict: {problem}")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def state_dict_problem(sd: dict) -> str | None:
    """What makes ``sd`` (names to tensors) unusable as weights, or None: no tensors, a
    name that is not a string, a sparse, quantized, complex or non-finite tensor."""
    if not sd:
        return "it holds no tensors"
    for k, v in sd.items():
        if not isinstance(k, str):
            return f"the key {k!r} is not a name"
        if v.layout != torch.strided or v.is_quantized:
            return f"{k} is a {str(v.layout).removeprefix('torch.')} tensor, not a dense one"
        if v.is_complex() or not (v.is_floating_point() or k.endswith("num_batches_tracked")):
            return f"{k} holds {str(v.dtype).removeprefix('torch.')} values, not real numbers"
        if v.is_floating_point() and not torch.isfinite(v).all():
            return f"{k} holds NaN or inf"
    return None


def layers(sd: dict, where: str) -> list[tuple[torch.Tensor, dict | None]]:
    """The Sequential ``main``'s convolutions in order, each with the BatchNorm after it:
    [(weight (out, in, k, k) or (in, out, k, k), {weight, bias, running_*} or None)]."""
    index = {}
    for key in sd:
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "main" or not parts[1].isdigit():
            raise CheckpointError(f"{where}: unexpected tensor {key!r}; the pytorch/examples "
                                  "DCGAN keeps every layer in `main` (main.0.weight, ...)")
        index.setdefault(int(parts[1]), {})[parts[2]] = sd[key]
    out = []
    for k in sorted(index):
        t = index[k]
        if "running_mean" in t:
            if not out or out[-1][1] is not None:
                raise CheckpointError(f"{where}: main.{k} is a BatchNorm with no convolution before it")
            out[-1] = (out[-1][0], {n: t[n] for n in BN_KEYS if n in t})
        elif set(t) == {"weight"} and t["weight"].ndim == 4:
            out.append((t["weight"], None))
        else:
            raise CheckpointError(f"{where}: main.{k} holds {sorted(t)}, not a bias-free "
                                  "convolution or a BatchNorm")
    return out


def g_config(convs, where: str) -> NetConfig:
    """nz, ngf, channels and size from G's transposed convolutions' (in, out, k, k) shapes."""
    first, last = convs[0][0], convs[-1][0]
    size = first.shape[2] * 2 ** (len(convs) - 1)
    try:
        return NetConfig(size=size, channels=last.shape[1], nz=first.shape[0], latent="normal",
                         g_width=last.shape[0], d_width=last.shape[0])
    except ConfigError as e:
        raise CheckpointError(f"{where}: {e}") from None


def g_state(convs) -> dict[str, torch.Tensor]:
    sd = {}
    for i, (w, bn) in enumerate(convs):
        sd[f"net.{3 * i}.weight"] = w
        sd.update({f"net.{3 * i + 1}.{n}": v for n, v in (bn or {}).items()})
    w = convs[-1][0]
    sd[f"net.{3 * (len(convs) - 1)}.bias"] = torch.zeros(w.shape[1], dtype=w.dtype)
    return sd


def d_state(convs) -> dict[str, torch.Tensor]:
    sd = {"blocks.0.0.bias": torch.zeros(convs[0][0].shape[0])}
    for i, (w, bn) in enumerate(convs[:-1]):
        sd[f"blocks.{i}.0.weight"] = w
        sd.update({f"blocks.{i}.1.{n}": v for n, v in (bn or {}).items()})
    sd["head.weight"], sd["head.bias"] = convs[-1][0], torch.zeros(1)
    return sd


def build(net_cls, cfg: NetConfig, state: dict, where: str):
    net = net_cls(cfg)
    load_module_state(net, state, where)  # every name and shape checked, and finite
    return net.eval()


def import_dcgan(net_g: Path, out: Path, net_d: Path | None = None, data: str = "folder") -> dict:
    """Read, check and convert both nets, then write the snapshot folder ``out``: the
    snapshots and a config.json naming ``data``, the set they were trained on (what
    `eval` and `probe` compare with unless told), so that every tool opens it as a run."""
    from ..resolver import build_config

    if out.exists():
        check_free(out, WRITES)
    g_convs = layers(read_state_dict(net_g, "generator"), shown(net_g))
    cfg = g_config(g_convs, shown(net_g))
    G = build(Generator, cfg, g_state(g_convs), f"{shown(net_g)} (as a dfmgan generator)")
    D = None
    if net_d is not None:
        d_convs = layers(read_state_dict(net_d, "discriminator"), shown(net_d))
        cfg.d_width = d_convs[0][0].shape[0]
        D = build(Discriminator, cfg, d_state(d_convs), f"{shown(net_d)} (as a dfmgan discriminator)")
    run = build_config(overrides={"net": cfg.to_dict(), "data": {"name": data}})
    meta = {"step": 0, "objective": "gan", "data": data,
            "imported": {"from": "pytorch/examples dcgan/main.py", "netG": file_sha256(net_g),
                         **({"netD": file_sha256(net_d)} if net_d else {})}}
    out.mkdir(parents=True, exist_ok=True)
    export_snapshot(out, G, meta)
    if D is not None:
        export_snapshot(out, D, meta, name=DISCRIMINATOR)
    atomic_write(RunLayout(out).config_path, run.to_json().encode())
    return {"net": cfg.to_dict(), "discriminator": D is not None}
