"""``--precision auto``: bf16 exactly where the CPU has native bf16 dot products, fp32
elsewhere; and what resume guarantees under each precision: bit for bit within one
precision (fp32 or bf16), and a precision changed on resume continues in the new
arithmetic (allowed, since it is a speed setting, but not the uninterrupted run)."""
from __future__ import annotations

import json
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dfmgan.checkpoint import load_latest_state
from dfmgan.objectives import OBJECTIVES
from dfmgan.training import train
from dfmgan.training.speed import NATIVE_BF16, cpu_flags, resolve_precision
from test_objectives import setup

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
OTHER_FLAGS = ["fpu", "sse2", "avx", "avx2", "avx512f", "avx512bw", "avx512_vnni", "fma", "neon"]


@given(flags=st.sets(st.sampled_from(OTHER_FLAGS + list(NATIVE_BF16))))
def test_auto_picks_bf16_exactly_where_the_cpu_has_it(flags):
    want = "bf16" if flags & set(NATIVE_BF16) else "fp32"
    assert resolve_precision("auto", CPU, flags) == want
    assert resolve_precision("auto", CUDA, flags) == "fp32"  # a GPU's choice is the user's
    for explicit in ("fp32", "bf16", "fp16"):
        assert resolve_precision(explicit, CPU, flags) == explicit


def test_flags_are_read_from_cpuinfo():
    x86 = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\nbugs\t\t: spectre\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd bf16\n"
    assert cpu_flags(x86) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert cpu_flags(arm) == {"fp", "asimd", "bf16"} and cpu_flags("") == set()


def weights(run) -> dict:
    return load_latest_state(run)["objective"]["modules"]


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_is_bitwise_within_one_precision(tmp_path, tiny_cfg, precision):
    speed = {"speed": {"precision": precision}}
    train(tiny_cfg(steps=6, **speed), tmp_path / "a", progress=False)
    train(tiny_cfg(steps=3, **speed), tmp_path / "b", progress=False)
    train(tiny_cfg(steps=6, **speed), tmp_path / "b", resume=True, progress=False)
    assert same(weights(tmp_path / "a"), weights(tmp_path / "b"))


def test_a_precision_changed_on_resume_continues_in_the_new_arithmetic(tmp_path, tiny_cfg):
    train(tiny_cfg(steps=6), tmp_path / "a", progress=False)
    train(tiny_cfg(steps=3), tmp_path / "b", progress=False)
    train(tiny_cfg(steps=6, speed={"precision": "bf16"}), tmp_path / "b", resume=True, progress=False)
    assert load_latest_state(tmp_path / "b")["step"] == 6
    assert not same(weights(tmp_path / "a"), weights(tmp_path / "b"))


@pytest.mark.parametrize("name,own", [(n, {}) for n in sorted(OBJECTIVES)] + [
    ("dfm", {"denoiser": {"depth": 2, "width": 32, "bf16": True}}),
    ("dfm", {"denoiser": {"depth": 2, "width": 32, "bf16": True, "every": 2}})])
@pytest.mark.parametrize("amp", [None, torch.bfloat16])
def test_every_objective_steps_under_every_cpu_precision(name, own, amp):
    """Two steps of every objective, lever and precision give the statistics of the same
    two steps in fp32 (at a learning rate too small for Adam to amplify rounding): bit for bit where nothing runs in bf16, within bf16's rounding
    (8 significant bits through a few layers: 5%) where something does. An objective's own
    autocast (DFM's bf16 r) nested in the step's bf16 autocast once met fp32 weights with
    bf16 features; this also catches a precision that silently does nothing."""
    def two_steps(own_, amp_):
        obj, real, z = setup(name, scheme=OBJECTIVES[name].schemes[0], **own_)
        obj.set_precision(amp_, torch.device("cpu"))
        for opt in obj.opt.values():  # Adam's step is about lr x sign(grad): at 1e-3 it turns
            for group in opt.param_groups:  # bf16's rounding of tiny gradients into whole
                group["lr"] = 1e-6  # steps (WGAN-GP's 5 critic steps drifted 10x apart)
        # a batch per D step (WGAN-GP's n_critic), stacked along the batch dimension
        real, z = torch.cat([real] * obj.d_steps), torch.cat([z] * obj.d_steps)
        return [{k: float(v) for k, v in obj.step(real, z).items()} for _ in range(2)]

    fp32_own = json.loads(json.dumps(own).replace('"bf16": true', '"bf16": false'))
    want, got = two_steps(fp32_own, None), two_steps(own, amp)
    assert [set(s) for s in got] == [set(s) for s in want]
    in_bf16 = amp is not None or own.get("denoiser", {}).get("bf16")
    for g, w in zip(got, want):
        for k in w:
            if in_bf16:
                assert g[k] == pytest.approx(w[k], rel=0.05, abs=0.05), (name, own, amp, k)
            else:
                assert g[k] == w[k], (name, own, amp, k)
    if in_bf16 and name == "gan":  # the arithmetic really changed
        assert got != want