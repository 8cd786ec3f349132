"""No import circle anywhere in ``ganeval/``: the import graph is walked from the source (AST).

Two graphs must be acyclic:

1. the imports that run when a module is imported (module level, outside ``if TYPE_CHECKING``);
2. every import, those inside functions too, since a function-level import that closes a loop is
   still a circle between two modules' jobs (the registry importing the adapters that import
   it was one). Left out of this graph: imports of the root package ``ganeval`` (always
   initialised first; modules read ``__version__`` from it) and a package's function-level
   imports of its own submodules (a package loading its members on demand, as
   ``ganeval.features`` does with its extractors).

Plug-ins, built-in adapters included, are loaded by module name (``importlib``) through the
registry, exactly like third-party entry points; that is not an import of their code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ganeval"


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _is_package(mod: str) -> bool:
    return MODULES[mod].name == "__init__.py"


def _absolute(mod: str, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = mod.split(".") if _is_package(mod) else mod.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _imports(mod: str) -> list[tuple[str, bool]]:
    """``(imported ganeval module, at module level?)`` for every import statement of ``mod``."""
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, top) for a in child.names if a.name.split(".")[0] == "ganeval")
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(mod, child.level, child.module)
                if base.split(".")[0] == "ganeval":
                    for a in child.names:
                        sub = f"{base}.{a.name}"
                        out.append((sub if sub in MODULES else base, top))
            visit(child, inner)

    visit(ast.parse(MODULES[mod].read_text(encoding="utf-8")), True)
    return [(m, top) for m, top in out if m in MODULES and m != mod]


def _graph(module_level_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod in MODULES:
        for target, top in _imports(mod):
            if module_level_only and not top:
                continue
            if not module_level_only:
                if target == "ganeval":
                    continue
                if not top and _is_package(mod) and target.rpartition(".")[0] == mod:
                    continue
            graph[mod].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := dfs(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := dfs(v)):
            return found
    return None


def test_the_walker_sees_the_imports():
    imports = dict(_imports("ganeval.scorers.basic"))
    assert imports.get("ganeval.registry") is True
    assert len(MODULES) > 40
    # A circle made on purpose is found.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_circle(module_level_only):
    cycle = _cycle(_graph(module_level_only))
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_registry_and_cli_flags_are_leaves():
    """The registry and the plug-in loader import no orchestration; the CLI's shared flags not the CLI."""
    for mod, allowed in (("ganeval.registry", {"ganeval.errors", "ganeval.plugins", "ganeval.results",
                                               "ganeval.features", "ganeval.data"}),
                         ("ganeval.plugins", {"ganeval.errors"})):
        assert {m for m, _ in _imports(mod)} <= allowed, mod
    assert not {m for m, _ in _imports("ganeval.cli_common")} & {"ganeval.cli", "ganeval.cli_gate", "ganeval.evaluate"}


def test_importing_ganeval_changes_no_matplotlib_state():
    """Importing ganeval (the report layer included) and drawing a figure neither switches the
    backend a notebook chose nor pulls in pyplot."""
    import subprocess
    import sys

    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "import ganeval, ganeval.cli, ganeval.report, ganeval.report.writer, ganeval.report.render\n"
        "import ganeval.report.figures as f; f._load()\n"
        "import torch\n"
        "from ganeval.report.plots import samples_figure\n"
        "from ganeval.report.render import render\n"
        "png = render(samples_figure(torch.zeros(8, 2)))\n"
        "assert png[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MPLBACKEND": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "False"]
