"""The package's shape: its module-level imports form no circle (so the layers read in
one direction), and `evaluation/` in particular has none."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "dfmgan"


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """dfmgan modules imported at module level (imports inside functions are deferred
    on purpose, to keep start-up light, and are not edges of the load order)."""
    name, out = module_name(path), set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:  # `from . import x` may name a submodule
                sub = f"{target}.{alias.name}"
                out.add(sub if is_module(sub) else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dfmgan"):
            out.add(node.module)
    return out


def is_module(name: str) -> bool:
    """A module or a package of ours (``from . import zoo`` names the package dfmgan.zoo)."""
    path = PKG.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    return {module_name(p): top_level_imports(p) for p in PKG.rglob("*.py")}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circle_in_the_package():
    g = graph()
    assert "dfmgan.evaluation.features" in g and g["dfmgan.training.loop"]  # the graph is read
    assert cycles(g) == []


def test_no_import_circle_inside_evaluation():
    g = {k: {v for v in vs if v.startswith("dfmgan.evaluation")}
         for k, vs in graph().items() if k.startswith("dfmgan.evaluation")}
    assert cycles(g) == []


def test_the_checker_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


# The layers, bottom up: a module may import its own layer and those below, never above
# (cli -> config -> training -> data, models, objectives -> checkpoint, evaluation, with
# the plain records every layer shares at the bottom). Longest prefix wins.
LAYERS = [
    ("errors", "given", "layout", "reading", "cites", "digests", "zoo", "marks"),
    ("discovery", "outputs", "devices", "models.netconfig", "regularizers"),
    ("files", "snapshot_file", "distributed"),
    ("data", "models", "config", "imageio"),
    ("objectives", "sampling", "checkpoint"),
    ("snapshot", "evaluation"),
    ("presets",),
    ("resolver",),
    ("training",),
    ("tools",),
    ("cli", "cli_train", "cli_eval", "cli_tools", "cli_inputs", "cli_args", "__main__", ""),
    ("reference",),  # the docs' generated pages: reads the parsers and every registry
]


def layer_of(module: str) -> int:
    name = module.removeprefix("dfmgan").removeprefix(".")
    best = max((p for rank in LAYERS for p in rank
                if name == p or name.startswith(p + ".") or p == ""), key=len)
    return next(i for i, rank in enumerate(LAYERS) if best in rank)


def all_imports(path: Path) -> set[str]:
    """Every dfmgan module ``path`` imports, at module level or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if is_module(sub) else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dfmgan"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("dfmgan")}
    return out


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, bs in edges.items() for b in bs if layer_of(b) > layer_of(a))


def test_every_import_points_down_the_layers():
    edges = {module_name(p): all_imports(p) for p in PKG.rglob("*.py")}
    assert sum(map(len, edges.values())) > 200  # the imports are read
    assert upward(edges) == []


def test_the_layer_check_finds_an_upward_import():
    assert upward({"dfmgan.data.folder": {"dfmgan.training.loop"},
                   "dfmgan.training.loop": {"dfmgan.data"}}) == [("dfmgan.data.folder", "dfmgan.training.loop")]
    assert layer_of("dfmgan.models.netconfig") < layer_of("dfmgan.models.dcgan") < layer_of("dfmgan.cli")
