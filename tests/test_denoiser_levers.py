"""Issue 30's cost levers on DFM's denoiser r (objective.dfm.denoiser.every and .bf16):
r trains on exactly the steps it should, G reads r on every step, a bf16 r runs its matrix
products in bfloat16 with fp32 weights and an fp32 target, and both resume bitwise."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import resumed_equals_straight
from dfmgan.errors import ConfigError
from test_objectives import setup


def moved(before, module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters()))


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 4), n=st.integers(1, 7),
       scheme=st.sampled_from(["simultaneous", "alternating"]))
def test_r_trains_on_every_kth_step_only_and_g_reads_it_always(k, n, scheme):
    obj, real, z = setup(scheme=scheme, denoiser={"depth": 2, "width": 32, "every": k})
    steps_r_moved, g_terms = [], []
    for _ in range(n):
        before = [p.detach().clone() for p in obj.R.parameters()]
        stats = obj.step(real, z)
        steps_r_moved.append(moved(before, obj.R))
        g_terms.append(float(stats["dfm/G_denoise"]))
    assert steps_r_moved == [t % k == 0 for t in range(n)]
    assert all(g > 0 for g in g_terms)  # the DFM term is in G's loss on rest steps too


def linear_dtypes(obj):
    """The dtypes each of r's Linear layers computes in, recorded by forward hooks."""
    seen = []
    for m in obj.R.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("bf16", [False, True])
def test_a_bf16_denoiser_computes_in_bf16_with_fp32_weights_and_target(bf16):
    obj, real, z = setup(denoiser={"depth": 2, "width": 32, "bf16": bf16})
    ref, _, _ = setup(denoiser={"depth": 2, "width": 32})  # the same weights (same seed), fp32
    seen = linear_dtypes(obj)
    h = torch.randn(6, obj.R.n_in)
    out, want = obj.r(h), ref.r(h)
    assert seen == [torch.bfloat16 if bf16 else torch.float32] * 3
    assert out.dtype == torch.float32
    if bf16:  # bf16 rounding (8 significant bits): near the fp32 output, not equal to it
        assert not torch.equal(out, want)
        assert torch.allclose(out, want, rtol=0.05, atol=0.05)
    else:
        assert torch.equal(out, want)
    stats = obj.step(real, z)
    assert all(p.dtype == torch.float32 for p in obj.R.parameters())
    assert all(torch.isfinite(v).all() for v in stats.values())


@pytest.mark.parametrize("bad", [{"every": 0}, {"every": -2}, {"every": 1.5}, {"bf16": "yes"}])
def test_bad_lever_values_are_refused(bad):
    with pytest.raises(ConfigError):
        setup(denoiser={"depth": 2, "width": 32, **bad})


def test_levers_resume_bitwise(tmp_path, tiny_cfg):
    """3 steps + resume + 3 equals 6: r's rest steps follow the saved step counter (every 4:
    r trains at steps 0 and 4, so the resumed half holds one of each)."""
    over = {"objective": {"name": "dfm", "dfm": {"denoiser": {"width": 16, "every": 4,
                                                             "bf16": True}}}}
    _, got = resumed_equals_straight(tmp_path, lambda n: tiny_cfg(steps=n, **over))
    # r's loss is logged on its training steps only
    assert [r["step"] for r in got if "dfm/denoiser_loss" in r] == [1, 5]
