"""A study's grids.png: each setting's newest sample grid, from its lowest seed with a
readable one, captioned, four to a row (no training: run folders are made by hand)."""
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dfmgan.imageio import save_png
from dfmgan.tools.study_report import PLOT_COLUMNS, grids, newest_grid

W, H, BAND, GAP = 20, 12, 16, 8  # a grid's size, the caption's band, the gap between panels


def colour(setting: int, seed: int, step: int) -> tuple[int, int, int]:
    return (40 + 20 * setting, 60 + 30 * seed, step % 251)


# per setting, per seed: the grid steps it wrote, whether its latest.png is damaged, and
# whether its numbered grids are gone (git keeps latest.png and done.json only)
runs_of = st.lists(st.lists(st.tuples(st.lists(st.integers(1, 9_999), max_size=3, unique=True),
                                      st.booleans(), st.booleans()), min_size=1, max_size=3),
                   min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(runs_of)
def test_each_setting_shows_its_lowest_readable_seeds_newest_grid(tmp_path_factory, spec):
    out = tmp_path_factory.mktemp("study")
    runs, expected = [], []
    for k, seeds in enumerate(spec):
        listed = len(runs)
        chosen = None
        for seed, (steps, damaged, light) in enumerate(seeds):
            folder = out / f"set{k}-s{seed}"
            (folder / "samples").mkdir(parents=True)
            runs.append(SimpleNamespace(setting=f"set{k}", seed=seed, folder=folder))
            for step in sorted(steps):  # as training writes them: latest.png is the newest
                grid = Image.new("RGB", (W, H), colour(k, seed, step))
                save_png(grid, folder / "samples" / f"{step:08d}.png")
                save_png(grid, folder / "samples" / "latest.png")
            if steps and light:
                for p in (folder / "samples").glob("0*.png"):
                    p.unlink()
                (folder / "done.json").write_text(f'{{"steps": {max(steps)}}}')
            if steps:
                assert newest_grid(folder)[0] == f"step {max(steps):,}"  # its step, either way
            if steps and damaged:
                (folder / "samples" / "latest.png").write_bytes(b"\x89PNG broken")
            elif steps and chosen is None:
                chosen = colour(k, seed, max(steps))
        runs[listed:] = runs[listed:][::-1]  # a setting's seeds in any order: the lowest wins
        if chosen is not None:
            expected.append(chosen)
    sheet = grids(SimpleNamespace(runs=runs))
    if not expected:
        assert sheet is None
        return
    rows = [expected[i:i + PLOT_COLUMNS] for i in range(0, len(expected), PLOT_COLUMNS)]
    width = max(len(r) * W + (len(r) - 1) * GAP for r in rows)
    assert sheet.size == (width, len(rows) * (H + BAND) + (len(rows) - 1) * GAP)
    px = np.asarray(sheet)
    for i, want in enumerate(expected):
        r, c = divmod(i, PLOT_COLUMNS)
        y, x = r * (H + BAND + GAP) + BAND, c * (W + GAP)
        assert (px[y:y + H, x:x + W] == want).all(), (i, want, px[y, x])  # that grid, whole
        assert (px[y - BAND:y, x:x + W] != 255).any()  # its caption is written above it
