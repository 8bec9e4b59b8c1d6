"""The DCGAN paper's analyses: probe, latent walks and arithmetic, forgetting to draw,
guided backprop. Each tool is checked where a wrong implementation would fail."""
import json

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_run
from torch import nn

from dfmgan.data.base import ArraySource
from dfmgan.data.transforms import to_uint8
from dfmgan.models import Discriminator, Generator, NetConfig
from dfmgan.sampling import frozen_bn, generate
from dfmgan.tools import ablate, latent
from dfmgan.tools.guided import guided
from dfmgan.evaluation.linear_probe import per_class, pixels, pooled_features
from dfmgan.tools.probe import parse_budgets, probe

pytestmark = pytest.mark.slow  # subprocess runs and training: `make test` only


# --- latent walks and arithmetic ------------------------------------------------------
@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_interpolation_endpoints_reproduce_their_inputs(mode):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, generator=g), torch.randn(100, generator=g) * 3
    path = latent.INTERPOLATE[mode](a, b, torch.linspace(0, 1, 7))
    assert path.shape == (7, 100)
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)


def test_slerp_follows_the_great_circle_and_lerp_the_chord():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = latent.slerp(a, b, torch.tensor([0.5]))[0]
    assert torch.allclose(mid, torch.tensor([0.5 ** 0.5, 0.5 ** 0.5]), atol=1e-6)  # |mid| = 1
    assert torch.allclose(latent.lerp(a, b, torch.tensor([0.5]))[0], torch.tensor([0.5, 0.5]))
    assert torch.allclose(latent.slerp(a, 2 * a, torch.tensor([0.5]))[0], 1.5 * a)  # parallel


def test_walk_rows_run_from_point_to_point():
    z = torch.randn(4, 8)
    w = latent.walk(z, 5, "slerp")
    assert w.shape == (15, 8)
    assert torch.allclose(w[0], z[0], atol=1e-6) and torch.allclose(w[4], z[1], atol=1e-6)
    assert torch.allclose(w[5], z[1], atol=1e-6) and torch.allclose(w[14], z[3], atol=1e-6)


def test_arithmetic_on_identical_sets_returns_the_base_vector():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 100, generator=g), torch.rand(3, 100, generator=g)
    assert torch.allclose(latent.arithmetic(a, b, b[[2, 0, 1]]), a.mean(0), atol=1e-6)
    assert torch.allclose(latent.arithmetic(a, b, a), 2 * a.mean(0) - b.mean(0), atol=1e-6)


def test_neighbours_and_turn():
    z = torch.zeros(50)
    nb = latent.neighbours(z, 8, 0.25, torch.Generator().manual_seed(0))
    assert nb.shape == (9, 50) and torch.equal(nb[0], z)
    assert nb[1:].abs().max() <= 0.25 and nb[1:].abs().max() > 0.2
    t = latent.turn(torch.zeros(2, 3), torch.tensor([1.0, 2.0, 3.0]), 5)
    assert t.shape == (10, 3) and torch.allclose(t[4], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(t[2], torch.tensor([0.5, 1.0, 1.5])) and torch.equal(t[5], torch.zeros(3))


def test_frozen_bn_makes_an_image_depend_on_its_own_latent_only():
    G = Generator(NetConfig(size=32, channels=1, g_width=8))
    z = G.sample_latent(20, torch.Generator().manual_seed(0))
    Gf = frozen_bn(G, n=256)
    alone = generate(Gf, z[:1], mode="running")
    among = generate(Gf, z, mode="running")[:1]
    assert torch.equal(alone, among)
    # in batch mode it would not be: that is why the tools freeze BatchNorm
    assert not torch.equal(generate(G, z[:2], mode="batch", batch_size=2)[:1],
                           generate(G, z[[0, 5]], mode="batch", batch_size=2)[:1])
    assert all(not m.training for m in Gf.modules()) and G.net[1].running_mean.abs().sum() == 0


# --- forgetting to draw ----------------------------------------------------------------
class Planted(nn.Module):
    """z (N, 4) -> 32×32 images drawn from four 8×8 maps. Map 0 is a 'window': a bright
    3×3-cell square, at the top left when z[:, 1] > 0 and the bottom right otherwise,
    present when z[:, 0] > 0. Maps 1–3 are textures everywhere, so the background has
    structure the regression must not confuse with the window."""

    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()
        yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
        self.register_buffer("texture", torch.stack([torch.sin(xx + yy), torch.cos(2 * xx),
                                                     torch.sin(3 * yy)]))

    def forward(self, z):
        n = len(z)
        window = torch.zeros(n, 1, 8, 8)
        tl, present = z[:, 1] > 0, z[:, 0] > 0
        window[tl & present, :, 1:4, 1:4] = 1
        window[~tl & present, :, 4:7, 4:7] = 1
        maps = self.relu(torch.cat([window, (self.texture[None] + 1) * z[:, 2:3, None, None].abs()], 1))
        img = 1.6 * maps[:, :1] + 0.1 * maps[:, 1:].sum(1, keepdim=True) - 0.8  # (N, 1, 8, 8)
        return nn.functional.interpolate(img, scale_factor=4).clamp(-1, 1)


def test_ablation_removes_a_planted_concept():
    net = Planted()
    render = lambda z: to_uint8(net(z))  # noqa: E731
    g = torch.Generator().manual_seed(0)
    z = torch.rand(40, 4, generator=g) * 2 - 1
    z[:, 0], z[:, 1] = 1, 1  # marked samples: a window at the top left
    masks = torch.zeros(40, 32, 32, dtype=torch.bool)
    masks[:, 4:16, 4:16] = True  # its box in pixels: cells 1..3
    concept = ablate.fit_concept(ablate.maps_at(render, net.relu, z), masks)
    assert 0 in concept.dropped and concept.train_accuracy > 0.95
    new = torch.rand(6, 4, generator=g) * 2 - 1
    new[:, 0], new[:, 1] = 1, -1  # windows elsewhere: dropped at every location, so gone too
    before, after = ablate.with_and_without(render, net.relu, concept, new)
    window = (slice(None), 0, slice(16, 28), slice(16, 28))
    assert before[window].float().mean() > 200 and after[window].float().mean() < 60
    assert torch.equal(render(new), before)  # the hook is gone afterwards


def test_boxes_become_masks_and_uncoverable_marks_are_refused():
    idx, masks = ablate.boxes_to_masks({"7": [[0, 0, 2, 3]], "2": [[30, 30, 32, 32]]}, 32)
    assert idx == [2, 7] and masks[1].sum() == 6 and masks[0].sum() == 4
    assert masks[0, 30:, 30:].all() and masks[1, :3, :2].all()
    with pytest.raises(ValueError, match="0 <= x0 < x1 <= 32"):  # past the edge: refused, not cut
        ablate.boxes_to_masks({"2": [[30, 30, 40, 40]]}, 32)
    with pytest.raises(Exception, match="cover no location"):
        ablate.fit_concept(torch.rand(2, 3, 4, 4), torch.zeros(2, 32, 32, dtype=torch.bool))


# --- guided backprop -----------------------------------------------------------------------
def test_guided_backprop_passes_only_positive_gradients_through_active_units():
    lin = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]))
    net = guided(nn.Sequential(lin, nn.LeakyReLU(0.2), nn.Linear(3, 1, bias=False)))
    with torch.no_grad():
        net[2].weight.copy_(torch.tensor([[2.0, -1.0, 3.0]]))
    x = torch.tensor([[1.0, 2.0, -1.0]], requires_grad=True)
    y = net(x)
    assert torch.allclose(y, torch.tensor([[2.0 - 2.0 - 0.6]]))  # forward unchanged (leaky)
    y.backward()
    # unit 0: active, gradient +2 -> 2; unit 1: gradient -1 -> 0; unit 2: inactive -> 0
    assert torch.equal(x.grad, torch.tensor([[2.0, 0.0, 0.0]]))


# --- the probe -------------------------------------------------------------------------------
def bars(n: int, g: torch.Generator):
    """Class 0: a horizontal 2×8 bar, class 1: a vertical 8×2 bar, rolled to a random even
    offset (wrapping round the edges). Same mass, and every pixel equally likely to be lit
    in either class: the class means are equal, so pixels carry little linear signal."""
    images = torch.zeros(n, 1, 32, 32, dtype=torch.uint8)
    labels = torch.arange(n) % 2
    for i in range(n):
        bar = torch.zeros(32, 32, dtype=torch.uint8)
        bar[:2, :8] = 255
        shift = tuple((2 * torch.randint(0, 16, (2,), generator=g)).tolist())
        images[i, 0] = torch.roll(bar if labels[i] == 0 else bar.T, shift, (0, 1))
    return ArraySource(images, labels, "bars")


def bar_detector() -> Discriminator:
    """A D whose first layer holds a horizontal and a vertical bar detector; the deeper
    layers are zero, so only max-pooled first-layer maps carry information."""
    D = Discriminator(NetConfig(size=32, channels=1, d_width=2))
    with torch.no_grad():
        for p in D.parameters():
            p.zero_()
        w = -torch.ones(4, 4)
        w[1:3] = 1
        D.blocks[0][0].weight[0, 0], D.blocks[0][0].weight[1, 0] = w, w.T
    return D


def test_probe_separates_a_set_separable_only_in_pooled_features():
    g = torch.Generator().manual_seed(0)
    train, test = bars(400, g), bars(400, g)
    D = bar_detector()
    assert pooled_features(D, train.images[:3]).shape == (3, (2 + 4 + 8) * 16)
    rows = probe({"pooled": lambda x: pooled_features(D, x), "pixels": pixels}, train, test,
                 [None, 50], draws=2)
    acc = {(r["features"], r["labels"]): r["accuracy"] for r in rows}
    assert acc["pooled", "all"] > 0.97 and acc["pooled", "50/class"] > 0.85
    assert acc["pixels", "all"] < 0.8 and acc["pixels", "50/class"] < 0.7, acc  # seen: 0.70, 0.55
    assert [r["draws"] for r in rows] == [1, 2, 1, 2]


def test_label_budgets():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    idx = per_class(labels, 5, torch.Generator().manual_seed(0))
    assert torch.bincount(labels[idx]).tolist() == [5, 3, 5] and len(idx.unique()) == 13
    assert parse_budgets("100, all") == [100, None]
    with pytest.raises(Exception, match="neither"):
        parse_budgets("0")


# --- the commands end to end ---------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("tools") / "run")


def png_size(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def test_interpolate_writes_a_grid_and_gifs(run, tmp_path):
    r = run_cli("interpolate", str(run), "--points", "3", "--steps", "4", "--out", str(tmp_path / "w.png"))
    assert r.returncode == 0, r.stderr
    from PIL import Image

    with Image.open(tmp_path / "w-slerp.gif") as gif:
        assert gif.n_frames == 7  # 2 segments of 4, the shared joint once
    # 2 segments x 2 modes rows of 4 images of 28 px (+2 px borders), drawn 3x, after a
    # 44 px margin naming each row's walk; lerp rows are darker text on white there
    assert png_size(tmp_path / "w.png") == (44 + 3 * (4 * 30 + 2), 3 * (4 * 30 + 2))
    with Image.open(tmp_path / "w.png") as img:
        margin = np.asarray(img.convert("L"))[:, :44]
    assert (margin < 128).any() and (margin[:, :2] == 255).all()  # text, on white


def test_arithmetic_and_turn_figures(run, tmp_path):
    from PIL import Image

    r = run_cli("arithmetic", str(run), "--a", "1,2,3", "--b", "4,5", "--c", "6", "--out", str(tmp_path / "a.png"))
    assert r.returncode == 0, r.stderr
    # the A/B/C grid after a 20 px margin of row labels, the 3 x 3 result after a 52 px one
    assert png_size(tmp_path / "a.png") == (20 + 3 * (4 * 30 + 2) + 24 + 52 + 3 * (3 * 30 + 2),
                                            3 * (3 * 30 + 2))
    with Image.open(tmp_path / "a.png") as img:
        grey = np.asarray(img.convert("L"))
    left_margin = grey[:, :20]
    right_margin = grey[:, 20 + 3 * 122 + 24:20 + 3 * 122 + 24 + 52]
    third = grey.shape[0] // 3
    assert (left_margin[:third] < 128).any() and (left_margin[2 * third:] < 128).any()  # A ... C
    assert (right_margin[third:2 * third] < 128).any()  # A-B+C beside the middle row
    assert not (right_margin[:third - 4] < 128).any()  # and only there
    r = run_cli("arithmetic", str(run), "--turn", "--a", "1", "--b", "2", "--base", "3,4",
                "--steps", "5", "--out", str(tmp_path / "t.png"))
    assert r.returncode == 0, r.stderr
    assert png_size(tmp_path / "t.png") == (3 * (5 * 30 + 2), 3 * (2 * 30 + 2))


def test_ablate_and_visualize_write_their_files(run, tmp_path):
    (tmp_path / "boxes.json").write_text(json.dumps({"3": [[0, 0, 20, 20]], "8": [[8, 8, 28, 28]]}))
    r = run_cli("ablate", str(run), "--boxes", str(tmp_path / "boxes.json"), "--n", "4",
                "--layer", "0", "--out", str(tmp_path / "f.png"))
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "f.json").read_text())
    assert record["layer"] == 0 and record["n_channels"] == 16 and record["n_positive"] > 0
    assert png_size(tmp_path / "f.png") == (3 * (4 * 30 + 2), 3 * (2 * 30 + 2))
    r = run_cli("visualize", str(run), "--units", "3", "--n", "50", "--out", str(tmp_path / "v.png"))
    assert r.returncode == 0, r.stderr
    from dfmgan.tools.guided import ROW_LABELS

    margin = 8 + 7 * max(map(len, ROW_LABELS))  # the row labels' margin on the left
    assert png_size(tmp_path / "v.png") == (margin + 3 * (3 * 30 + 2), 3 * (4 * 30 + 2))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_each_row_of_the_figure_carries_its_label(mode):
    """The margin of each row holds ink, each row's differently (trained D against random
    D, images against guided views), and the grid itself is untouched."""
    import numpy as np
    from PIL import Image

    from dfmgan.tools.guided import ROW_LABELS, labelled_rows

    grid = Image.new(mode, (60, 4 * 40), "white" if mode == "RGB" else 255)
    out = np.asarray(labelled_rows(grid, ROW_LABELS).convert("L"))
    margin = out.shape[1] - 60
    strips = [out[i * 40:(i + 1) * 40, :margin] for i in range(4)]
    assert all((s < 128).any() for s in strips)  # ink in every row's margin
    assert len({s.tobytes() for s in strips}) == 4  # four different labels
    assert (out[:, margin:] == 255).all()


def test_the_explorers_request_count_reads_as_words():
    import io

    from dfmgan.cli_inputs import request_bar

    bar = request_bar(file=io.StringIO())
    texts = []
    for _ in range(2):
        bar.update()
        texts.append(str(bar))
    bar.close()
    assert texts[0].startswith("explore: requests answered: 1 [") and "requests answered: 2" in texts[1]
    assert not any("s/" in t or "requests/" in t or "1 requests" in t for t in texts)


def test_probe_command(run, tmp_path):
    r = run_cli("probe", str(run), "--labels", "5", "--draws", "2", "--kmeans-k", "8",
                "--out", str(tmp_path / "p.json"))
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "p.json").read_text())
    assert [row["features"] for row in rec["rows"]] == ["D (trained)", "D (random init)",
                                                         "raw pixels", "k-means, K=8"]
    assert rec["rows"][0]["dim"] == (8 + 16) * 16 and rec["rows"][3]["dim"] == 4 * 8
    assert all(row["draws"] == 2 and 0.1 < row["accuracy"] <= 1 for row in rec["rows"])
    assert "| D (trained) |" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["arithmetic", "--a", "1,99", "--b", "2", "--c", "3", "--out", "x.png"], "indices must lie in 0..63"),
    (["arithmetic", "--a", "1", "--out", "x.png"], "give --a, --b and --c"),
    (["ablate", "--boxes", "missing.json", "--out", "x.png"], "cannot read marks"),
    (["ablate", "--out", "x.png"], "give --boxes"),
    (["ablate", "--boxes", "b.json", "--layer", "5", "--out", "x.png"], "this generator has 2 hidden layers"),
    (["probe", "--labels", "ten"], "neither a positive count"),
    (["probe", "--baselines", "sift"], "unknown baseline 'sift'"),
    (["interpolate", "--points", "1", "--out", "x.png"], "argument --points: must be in 2..1,000"),
    (["interpolate", "--out", "x.jpg"], "the figure is a .png"),
    (["visualize", "--layer", "7", "--out", "x.png"], "D has 2 conv layers"),
    (["sample", "--label", "0", "--out", "x.png"], "this generator has 0 classes"),
])
def test_tools_bad_input(run, tmp_path, args, needle):
    (tmp_path / "b.json").write_text(json.dumps({"1": [[0, 0, 28, 14]]}))
    r = run_cli(args[0], str(run), *args[1:], cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_discriminator_from_a_run_without_its_snapshot(run, tmp_path):
    import shutil

    from dfmgan.snapshot import load_discriminator

    D, meta = load_discriminator(run)
    old = tmp_path / "old"
    shutil.copytree(run, old)
    for f in ("discriminator.safetensors", "discriminator.json"):
        (old / f).unlink()
    D2, meta2 = load_discriminator(old)  # from checkpoints/state-*.pt
    assert meta2["step"] == meta["step"] == 3 and meta2["data"] == "digits"
    assert all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), D2.state_dict().values()))


@pytest.mark.parametrize("C", [1e-2, 1.0])
def test_lbfgs_l2svm_reaches_linearsvcs_optimum(C):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from dfmgan.evaluation.l2svm import TorchL2SVM

    x, y = load_digits(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    ref = LinearSVC(C=C, loss="squared_hinge", dual=True, max_iter=100_000, tol=1e-8).fit(x, y)
    ours = TorchL2SVM(C=C).fit(x, y)
    assert np.abs(ours.coef_ - ref.coef_).max() < 0.02 * np.abs(ref.coef_).max()  # seen: < 0.01
    assert np.abs(ours.intercept_ - ref.intercept_).max() < 0.01
    assert (ours.predict(x) == ref.predict(x)).mean() > 0.995
    from dfmgan.evaluation.linear_probe import l2svm

    pipe = l2svm(C, 10_000).fit(x, y)  # the probe's path above 5k examples
    assert isinstance(pipe[-1], TorchL2SVM) and pipe.score(x, y) == ours.score(x, y)
