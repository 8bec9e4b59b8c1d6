"""The documentation site (issue 42): its generated pages are current, it builds in strict
mode, it renders in a real browser with no console error or missing asset, and each
extension recipe of the architecture page is one file that works, in a temporary copy of
the package, touching no hand-written page."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

DOCS = REPO / "docs"


def test_the_generated_pages_are_current():
    from dfmgan.reference import stale

    assert stale(DOCS) == [], "run python -m dfmgan.reference --write docs"


def test_every_config_key_has_a_type_and_a_meaning():
    from dfmgan.config import TrainConfig, flatten
    from dfmgan.objectives import OBJECTIVES
    from dfmgan.reference import config_rows, objective_rows

    rows = list(config_rows()) + [r for n, c in OBJECTIVES.items() for r in objective_rows(n, c)]
    keys = {r[0] for r in rows}
    # every key config.json holds is a row (objective sections: every objective's)
    saved = {k for k in flatten(TrainConfig().to_dict()) if not k.startswith("objective.own")}
    assert saved <= keys
    for key, kind, default, span, meaning in rows:
        assert kind and len(meaning) > 8, key


def test_the_config_page_states_each_range_the_resolver_checks():
    from dfmgan.config import RANGES

    page = (DOCS / "reference" / "config.md").read_text()
    for key, (lo, hi) in RANGES.items():
        assert re.search(rf"^\| `{re.escape(key)}` \|[^\n]*\| {lo:,} \.\. {hi:,}", page, re.M), key


def test_the_cli_page_holds_every_subcommand_and_flag():
    from dfmgan.cli import build_parser
    from dfmgan.reference import subparsers

    page = (DOCS / "reference" / "cli.md").read_text()
    for name, sub in subparsers(build_parser(None)).items():
        assert f"## `dfmgan {name}`" in page
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)


def test_every_registered_name_is_on_its_reference_page():
    from dfmgan.data import DATASETS
    from dfmgan.evaluation.registry import all_metrics
    from dfmgan.objectives import OBJECTIVES
    from dfmgan.objectives.adversarial import ADVERSARIAL
    from dfmgan.presets import PRESETS

    for page, names in [("objectives.md", [*OBJECTIVES, *ADVERSARIAL]), ("datasets.md", DATASETS),
                        ("presets.md", PRESETS), ("metrics.md", all_metrics())]:
        text = (DOCS / "reference" / page).read_text()
        for name in names:
            assert f"| `{name}` |" in text, (page, name)


def test_the_home_page_is_the_readme():
    from dfmgan.reference import HEADER

    home = (DOCS / "index.md").read_text()
    readme = (REPO / "README.md").read_text()
    assert home.startswith(HEADER) and "](docs/" not in home
    assert home.count("\n") == HEADER.count("\n") + readme.count("\n")


def test_the_readme_is_short_and_links_only_to_what_exists():
    readme = (REPO / "README.md").read_text()
    assert readme.count("\n") <= 200
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).is_file(), target


def site_links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text())


def test_every_page_is_in_the_nav_and_every_link_lands():
    import yaml

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    listed = set(re.findall(r"[\w/.-]+\.md", str(nav)))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == listed
    for p in DOCS.rglob("*.md"):
        for link in site_links(p):
            assert (p.parent / link).resolve().is_file(), (p, link)


def mkdocs_or_skip():
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")


def build(out: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``mkdocs build --strict``, never with -q: -q hides the warnings --strict counts, and a
    broken link then builds."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.mark.slow
def test_the_site_builds_strictly_and_a_broken_link_fails_it(tmp_path):
    mkdocs_or_skip()
    r = build(tmp_path / "site")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "api.html").read_text().count("resolve") > 3
    # strict really is strict: a copy of the docs with one broken link does not build
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("docs", "src", "mkdocs.yml", "README.md"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, copy / name)
    page = copy / "docs" / "guides" / "gpu.md"
    page.write_text(page.read_text() + "\n[gone](no-such-page.md)\n")
    r = build(tmp_path / "broken", cwd=copy)
    assert r.returncode != 0 and "no-such-page.md" in r.stdout + r.stderr


@pytest.mark.slow
def test_the_site_renders_in_chromium_with_no_console_error(tmp_path):
    """Three pages from local files: the home page, a tutorial page and a reference page;
    screenshots kept in the test's folder; every image, stylesheet and script loaded."""
    mkdocs_or_skip()
    webdriver = pytest.importorskip("selenium.webdriver")
    if not shutil.which("chromedriver"):
        pytest.skip("chromium-driver is not installed")
    r = build(tmp_path / "site")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                "--allow-file-access-from-files"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=opts)
    try:
        for page in ("index.html", "tutorial/first-run.html", "reference/config.html"):
            browser.get((tmp_path / "site" / page).as_uri())
            assert browser.title and "dfmgan" in browser.title
            missing = browser.execute_script("""
                const bad = [];
                for (const img of document.images) if (!img.complete || !img.naturalWidth) bad.push(img.src);
                for (const e of performance.getEntriesByType('resource'))
                    if (e.transferSize === 0 && e.decodedBodySize === 0 && !e.name.startsWith('file:')) bad.push(e.name);
                for (const s of document.styleSheets) { try { s.cssRules; } catch (e) { bad.push(s.href); } }
                return bad;""")
            assert missing == [], (page, missing)
            errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], (page, errors)
            shot = tmp_path / (page.replace("/", "_") + ".png")
            browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
    finally:
        browser.quit()


RECIPE = re.compile(r'```python title="([\w/]+\.py)"\n(.*?)```\n\n```sh\n(.*?)\n```', re.S)


def recipes() -> list[tuple[str, str, str]]:
    return RECIPE.findall((DOCS / "architecture.md").read_text())


def test_the_architecture_page_has_a_recipe_for_each_extension_point():
    folders = sorted(path.split("/")[0] for path, _, _ in recipes())
    assert folders == ["data", "evaluation", "objectives", "objectives"]


@pytest.mark.slow
@pytest.mark.parametrize("path,code,command", recipes(), ids=[r[0] for r in recipes()])
def test_each_recipe_is_one_file_that_works(tmp_path, path, code, command):
    """The recipe's file written into a copy of the package: its command runs there, and the
    regenerated reference names the new thing. Only the new file and the generated pages
    differ from the original tree: no hand-written page was touched."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    (src / "dfmgan" / path).write_text(code)
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = command.replace("RUN", str(tmp_path / "run")).split()
    assert argv[0] == "dfmgan"
    r = subprocess.run([sys.executable, "-m", "dfmgan", *argv[1:]], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([sys.executable, "-m", "dfmgan.reference", "--write", "docs"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    name = re.search(r'(?:name = |register_\w+\()"([\w-]+)"', code).group(1)
    generated = "".join(p.read_text() for p in (tmp_path / "docs" / "reference").glob("*.md"))
    assert f"`{name}`" in generated
    changed = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.md")
               if p.read_bytes() != (REPO / p.relative_to(tmp_path)).read_bytes()]
    assert all(c.startswith("docs/reference/") for c in changed), changed
