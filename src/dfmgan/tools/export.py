"""``dfmgan export RUN --out DIR``: a generator to share. DIR holds the snapshot (the EMA
generator when the run kept one; its config also inside the safetensors metadata, so the
one file loads) and a ``README.md`` model card: architecture, objective, data, training
budget, the last metrics with their provenance, the licence, and the papers of what it used to cite."""
from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import DfmganError
from ..files import WriteError, atomic_write, temp_folder
from ..snapshot_file import parameter_count, read_snapshot_info
from ..outputs import shown
from ..layout import GENERATOR, GENERATOR_EMA, MODEL_CARD, RunLayout, sidecar

def citations(cfg) -> str:
    """BibTeX of what this run used: DCGAN (the nets), its objective, loss family, D
    normalisation and augmentation, each from its own class (``cites``)."""
    from ..cites import DCGAN
    from ..models.d_norms import d_norm
    from ..objectives import objective_class
    from ..objectives.adversarial import ADVERSARIAL
    from ..objectives.augment import CITES as AUGMENT

    cls = objective_class(cfg.objective.name)
    scheme, family = cls.resolve(cfg.objective)
    from ..regularizers import TERMS

    entries = [DCGAN, cls.cites, ADVERSARIAL[family].cites, d_norm(cfg.net.d_norm).cites,
               AUGMENT if cfg.objective.augment else "",
               *(TERMS[k].cites for k, g in sorted(cfg.objective.terms.items()) if g)]
    unique = list(dict.fromkeys(e for e in entries if e))  # gan and its family: one Goodfellow
    return "```bibtex\n" + "\n".join(unique) + "\n```"


def last_metrics(run: RunLayout) -> tuple[dict, str]:
    """The newest scores and where they come from: `dfmgan eval` rows first, else the
    evaluation during training that kept RUN/best."""
    from ..training.stats import read_rows

    if run.metrics.exists() and (rows := read_rows(run.metrics)):
        return rows[-1], "the last `dfmgan eval` row (metrics.jsonl)"
    if run.best_record.exists():
        from ..evaluation.during import read_best

        return read_best(run.best_record), "the best evaluation during training (best/best.json)"
    return {}, ""


def card(run: RunLayout, name: str, licence: str) -> str:
    from ..training.rundir import RunDir

    cfg = RunDir(run.path).saved_config()
    _, net, meta = read_snapshot_info(run.path / name)
    scores, source = last_metrics(run)
    images = meta.get("step", 0) * cfg.batch_size
    from ..objectives import objective_class

    scheme, family = objective_class(cfg.objective.name).resolve(cfg.objective)
    lines = [f"# dfmgan generator: {cfg.objective.name} on {cfg.data.name}", "",
             "| | |", "|---|---|",
             f"| architecture | DCGAN generator, {net.size}×{net.size} px, {net.channels} channel(s), "
             f"{net.nz}-d {net.latent} z, width {net.g_width}; "
             f"{parameter_count(run.path / name):,} parameters |",
             f"| objective | {cfg.objective.name} ({scheme} updates, {family} loss), Adam lr {cfg.optim.lr:g}, β1 {cfg.optim.beta1:g} |",
             f"| data | {cfg.data.name}" + (f" (preset {cfg.preset})" if cfg.preset else "") + " |",
             f"| training budget | {meta.get('step', 0):,} steps of batch {cfg.batch_size} "
             f"({images:,} images), seed {cfg.seed} |",
             f"| weights | {'EMA of G, half-life ' + format(cfg.ema, ',g') + ' images' if name == GENERATOR_EMA else 'G as trained'} |",
             f"| licence | {licence} |", ""]
    lines += metrics_section(scores, source)
    lines += ["## Use", "", "```python", "from dfmgan import load_generator",
              f'G = load_generator("{name}")  # the config is inside the file', "images = G.sample(16, seed=0)  # uint8 (16, C, H, W)",
              "```", "", "## Cite", "", citations(cfg), ""]
    return "\n".join(lines)


def metrics_section(scores: dict, source: str) -> list[str]:
    if not scores:
        return ["## Metrics", "", "None recorded: run `dfmgan eval RUN` before exporting.", ""]
    values = {k: v for k, v in scores.items() if isinstance(v, float)}
    where = scores.get("provenance") or {k: v for k, v in scores.items()
                                         if not isinstance(v, (float, list, dict))}
    return (["## Metrics", "", f"From {source}.", "", "| metric | value |", "|---|---|"]
            + [f"| {k} | {v:.4g} |" for k, v in values.items()]
            + ["", "Provenance: " + ", ".join(f"{k} = {v}" for k, v in where.items()), ""])


EXPORTED = (GENERATOR, sidecar(GENERATOR), MODEL_CARD)
CARD_TITLE = "# dfmgan generator"


def check_target(out: Path) -> None:
    """``out`` is new, empty, or a previous export (only its three files, its card ours):
    export replaces nothing it did not write."""
    if not out.exists():
        return
    names = {p.name for p in out.iterdir()}
    if not names:
        return
    card = RunLayout(out).model_card
    card_ours = card.is_file() and card.read_text(errors="replace").startswith(CARD_TITLE)
    if not names <= set(EXPORTED) or not card_ours:
        extra = sorted(names - set(EXPORTED)) or ["README.md (not a dfmgan model card)"]
        raise DfmganError(f"{shown(out)} holds files export did not write ({', '.join(extra[:3])}); "
                          "give a new or empty folder")


def export(run_dir: Path, out: Path, licence: str = "unspecified", ema: bool = True) -> Path:
    """Write the export into a temporary folder beside ``out``, then put it in place with
    one rename (an atomic exchange on Linux when ``out`` exists), so a reader sees the old
    export or the new one, never a mix; a failure (a full disk) leaves ``out`` as it was."""
    run = RunLayout(run_dir)
    if not run.config_path.exists():
        raise DfmganError(f"{run_dir} is not a dfmgan run (no config.json)")
    check_target(out)
    name = GENERATOR_EMA if ema and (run.path / GENERATOR_EMA).exists() else GENERATOR
    text = card(run, name, licence)  # reads (and checks) everything before writing
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_folder(out)
    try:
        for suffix in (".safetensors", ".json"):
            blob = (run.path / name.replace(".safetensors", suffix)).read_bytes()
            atomic_write(tmp / GENERATOR.replace(".safetensors", suffix), blob)
        atomic_write(RunLayout(tmp).model_card, text.replace(f'"{name}"', f'"{GENERATOR}"').encode())
        put_in_place(tmp, out)
    except OSError as e:
        raise WriteError(f"cannot export to {shown(out)}: {e.strerror or e}; "
                         f"{shown(out)} is as it was") from None
    finally:
        remove_export(tmp)
    return out


def put_in_place(tmp: Path, out: Path) -> None:
    """``tmp`` becomes ``out``; an existing ``out`` (checked: empty or an export) ends at
    ``tmp``, for the caller to remove."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if not exchange(tmp, out):  # no atomic exchange here: two renames, old one kept till last
        aside = tmp.with_name(tmp.name + ".old")
        os.rename(out, aside)
        os.rename(tmp, out)
        os.rename(aside, tmp)


def exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two paths atomically (Linux 3.15+); False where
    the call is not available."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def remove_export(folder: Path) -> None:
    """Delete a temporary or replaced export: only the files export writes, then the folder."""
    if not folder.is_dir():
        return
    for name in EXPORTED:
        (folder / name).unlink(missing_ok=True)
    for leftover in folder.glob(".*.tmp"):  # atomic_write's, from a write cut short
        leftover.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else is in it: left alone
