"""The shape of the package, read from the source with ``ast`` (nothing is imported).

House rules checked here (see docs/design.md):

* no file under ``tinynlp/`` is longer than ``MAX_LINES``: past that it is two ideas;
* no module imports another module's ``_private`` name (``from .x import _name``):
  what two modules share goes, public, into a helpers module;
* no import cycle between modules through their module-level imports, and no
  import inside a function except the few listed in ``LATE_IMPORTS`` (a late
  import hides a cycle: it is how one used to be worked around);
* no code written twice (``tools/find_duplicates.py``, deliberate patterns aside).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinynlp"
MAX_LINES = 600

#: Imports inside function bodies that stay, each for a reason.  Keys: "module: imported".
LATE_IMPORTS = {
    # the command line imports a sub-command's recipe (and its data) only when that
    # sub-command runs, so that `tinynlp --help` starts without loading the models
    # (task modules by name go through tinynlp.cli.common.task_module)
    "tinynlp.cli.train: tinynlp.tasks.sentiment",
    "tinynlp.cli.train: tinynlp.tasks.predictor",
    "tinynlp.cli.predict: tinynlp.tasks.predictor",
    "tinynlp.cli.embed: tinynlp.embeddings",
    "tinynlp.cli.embed: tinynlp.data.datasets",
    "tinynlp.cli.serve: tinynlp.serve",
    "tinynlp.cli.pretrain: tinynlp.pretrained.train",
    # the server (Starlette, uvicorn) is an optional extra: `import tinynlp.serve` works
    # without it, and its app and runner are imported when a server is made
    "tinynlp.serve: tinynlp.serve.app",
    "tinynlp.serve: tinynlp.serve.server",
    # `python -m tinynlp.distributed.launch` must not find launch imported already
    "tinynlp.distributed: tinynlp.distributed.launch",
    # the pretraining corpus is assembled from the dataset loaders, and tn.datasets
    # offers it beside them
    "tinynlp.data.datasets: tinynlp.data.corpus",
    # tn.Model(inputs, outputs) returns a Functional, a subclass of Model (Keras' dispatch)
    "tinynlp.models.model: tinynlp.models.functional",
}


def _modules():
    """{dotted name: (path, is_package)} for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _resolve(module, is_pkg, node):
    """The absolute module name an ``ImportFrom`` node imports from."""
    if node.level == 0:
        return node.module
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _module_level(tree):
    """The import nodes that run when the module is imported (not in functions or classes,
    not under ``if TYPE_CHECKING:``)."""
    found = []

    def walk(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    walk(node.body)
                    walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)
                walk(node.orelse)
                walk(node.finalbody)

    walk(tree.body)
    return found


def _imports():
    """[(module, node, target module, imported names, at module level)] for tinynlp imports."""
    out = []
    for module, (path, is_pkg) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top = {id(n) for n in _module_level(tree)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_pkg, node)
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "tinynlp":
                        out.append((module, node, alias.name, [], id(node) in top))
                continue
            else:
                continue
            if target and target.split(".")[0] == "tinynlp":
                out.append((module, node, target, names, id(node) in top))
    return out


IMPORTS = _imports()


def test_no_file_is_too_long():
    long = {str(path.relative_to(ROOT)): n for path, _ in MODULES.values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split each into a package): {long}"


def test_no_private_name_crosses_a_module_border():
    bad = []
    for module, node, target, names, _ in IMPORTS:
        for name in names:
            private = name.startswith("_") and not name.startswith("__")
            if private and f"{target}.{name}" not in MODULES and target != module:
                bad.append(f"{MODULES[module][0].relative_to(ROOT)}:{node.lineno}: "
                           f"from {target} import {name}")
    assert not bad, ("private names imported from another module (make them public in a "
                     "shared helpers module):\n" + "\n".join(bad))


def _imported_modules(target, names):
    """The modules an import statement loads: the submodules it names, and ``target``
    itself when it names something defined there (or nothing: ``import target``)."""
    subs = {f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES}
    if target in MODULES and len(subs) < max(len(names), 1):
        subs.add(target)
    return subs


def _graph():
    """Module-level import edges between modules of the package."""
    edges = {m: set() for m in MODULES}
    for module, _, target, names, top in IMPORTS:
        if top:
            edges[module].update(_imported_modules(target, names))
    for m, targets in edges.items():
        targets.discard(m)
    return edges


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    cycles = _cycles(_graph())
    assert not cycles, f"modules importing each other at module level: {cycles}"


def test_late_imports_are_only_the_listed_ones():
    """Imports inside functions are for optional / heavy dependencies, never a hidden cycle."""
    late = {f"{module}: {imported}" for module, _, target, names, top in IMPORTS if not top
            for imported in _imported_modules(target, names)}
    unexpected = sorted(late - LATE_IMPORTS)
    assert not unexpected, ("imports inside functions (move them to the top of the module; "
                            "if that makes a cycle, the code is in the wrong module):\n"
                            + "\n".join(unexpected))


def _find_duplicates():
    spec = importlib.util.spec_from_file_location("find_duplicates",
                                                  ROOT / "tools" / "find_duplicates.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("find_duplicates", mod)
    spec.loader.exec_module(mod)
    return mod


BODY = """\
    total = values[0] * weights[0] - offset
    scale = max(total, offset) / len(values)
    if scale > offset and total < 10:
        total = total + scale * weights[1]
    result = [value * scale for value in values]
    shifted = sorted(result, key=abs)[: len(weights)]
    return sum(shifted) + total - offset
"""


def test_duplicate_finder_finds_a_copy(tmp_path):
    fd = _find_duplicates()
    (tmp_path / "a.py").write_text(f"def f(values, weights, offset):\n{BODY}")
    (tmp_path / "b.py").write_text(f"def g(values, weights, offset):\n    x = 1\n{BODY}")
    renamed = BODY.replace("values", "xs").replace("weights", "ws").replace("scale", "k")
    (tmp_path / "c.py").write_text(f"def h(xs, ws, offset):\n{renamed}")
    one_shape = "".join(f"    self.a{i} = int(a{i})\n" for i in range(8))
    (tmp_path / "d.py").write_text(f"def __init__(self):\n{one_shape}")
    (tmp_path / "e.py").write_text(f"def __init__(this):\n{one_shape.replace('int', 'float')}")
    pairs = fd.scan(sorted(tmp_path.glob("*.py")), min_lines=6)
    kinds = sorted((k, a[0].name, b[0].name) for k, a, b in pairs)
    assert ("exact", "a.py", "b.py") in kinds
    assert any(k == "shape" and "c.py" in (x, y) for k, x, y in kinds)
    assert not any({"d.py", "e.py"} & {x, y} for _, x, y in kinds)   # a list of one-liners


def test_no_code_written_twice():
    fd = _find_duplicates()
    paths = sorted(PACKAGE.rglob("*.py"))
    bad = [f"{kind} {a[0].relative_to(ROOT)}:{a[1]}-{a[2]} ~ {b[0].relative_to(ROOT)}:{b[1]}-{b[2]}"
           for kind, a, b in fd.scan(paths, min_lines=6)
           if fd.allowed_reason(str(a[0].relative_to(ROOT)), str(b[0].relative_to(ROOT))) is None]
    assert not bad, ("the same code in two places (give it one home; "
                     "`python tools/find_duplicates.py` lists them):\n" + "\n".join(bad))
