"""How the package is built: one-way imports, no import hidden in a function, hooks
that a subclass must give."""

import ast
from pathlib import Path

import pytest

import sk_mtgru
import sk_mtgru._base

PACKAGE = Path(sk_mtgru.__file__).parent
# Imported where they are used, because they are optional extras.
OPTIONAL = {"accelerate", "matplotlib", "onnx", "onnxscript", "pandas", "safetensors"}


def _modules():
    """Each module of the package by dotted name, with its parsed source."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path.name == "__init__.py", ast.parse(path.read_text())


def _imported(node, name, is_package):
    """The package's modules that an import node names (absolute names)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("sk_mtgru")]
    if node.level == 0:
        return [node.module] if (node.module or "").startswith("sk_mtgru") else []
    base = name.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    module = ".".join(base + ([node.module] if node.module else []))
    if node.module:
        return [module]
    return [f"{module}.{alias.name}" for alias in node.names]


def _graph():
    known = {name for name, _, _ in _modules()}
    edges, hidden = {}, []
    for name, is_package, tree in _modules():
        edges[name] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            at_top = node in tree.body
            targets = [t for t in _imported(node, name, is_package) if t in known]
            if at_top:
                edges[name].update(targets)
            elif isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
                if not roots <= OPTIONAL:
                    hidden.append((name, node.lineno, sorted(roots)))
            elif targets or (node.module or "").split(".")[0] not in OPTIONAL:
                hidden.append((name, node.lineno, node.module))
    return edges, hidden


def _a_cycle(edges):
    """One cycle of the graph, or None."""
    state, path = {}, []

    def visit(node):
        state[node], path[len(path) :] = "open", [node]
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_modules_import_each_other_without_a_cycle():
    edges, _ = _graph()
    assert len(edges) > 30  # every module was read
    assert _a_cycle(edges) is None, " -> ".join(_a_cycle(edges))


def test_no_module_hides_an_import_in_a_function_but_optional_extras():
    _, hidden = _graph()
    assert hidden == []


def test_the_checker_sees_a_cycle():
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b"}, "b": set()}) is None


def test_an_estimator_missing_a_hook_fails_at_construction():
    class Forgetful(sk_mtgru._base.BaseMultiTaskGRU):
        """Has none of the hooks."""

    with pytest.raises(TypeError, match="abstract"):
        Forgetful()


def test_files_name_no_estimator_class_in_the_code_that_reads_them():
    # each estimator registers itself and declares how its targets are kept;
    # the file modules' code (their docstrings aside) names none of them
    modules = sorted((PACKAGE / "_io").glob("*.py"))
    assert len(modules) >= 7
    for module in modules:
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.Module, ast.ClassDef)):
                docstring = ast.get_docstring(node, clean=False)
                if docstring and node.body:
                    node.body = node.body[1:]
        code = ast.unparse(tree)
        for name in sk_mtgru.__all__:
            if name.startswith("MultiTaskGRU"):
                assert name not in code, module.name
