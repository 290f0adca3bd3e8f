"""The import structure of the autograd core: plain top-of-file imports, no cycle, nothing shadowed.

The modules are read with ``ast`` (not imported), so the test sees the source as a reader does.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import minitorch_ser.autograd as autograd_package

AUTOGRAD = Path(autograd_package.__file__).parent
PACKAGE = "minitorch_ser.autograd"
MODULES = sorted(p.stem for p in AUTOGRAD.glob("*.py"))


def _tree(module: str) -> ast.Module:
    path = AUTOGRAD / f"{module}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_autograd_modules(module: str) -> set:
    """The autograd modules ``module`` imports (relative or absolute), by stem."""
    found = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None:          # from . import a, b
                found.update(alias.name for alias in node.names)
            elif node.level == 1:                                # from .a import x
                found.add(node.module.split(".")[0])
            elif node.level == 0 and (node.module or "").startswith(PACKAGE + "."):
                found.add(node.module[len(PACKAGE) + 1:].split(".")[0])
            elif node.level >= 2:
                raise AssertionError(f"autograd/{module}.py imports from outside the core: "
                                     f"{'.' * node.level}{node.module} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name[len(PACKAGE) + 1:].split(".")[0])
                elif alias.name.startswith("minitorch_ser"):
                    raise AssertionError(f"autograd/{module}.py imports {alias.name} "
                                         f"(line {node.lineno}): the core knows no layer")
    return found & set(MODULES)


def _graph() -> dict:
    return {m: _imported_autograd_modules(m) for m in MODULES}


def test_the_core_modules_are_all_read():
    # guards the tests below against passing on an empty or misplaced folder
    assert {"__init__", "grad_mode", "tensor", "function", "ops", "gradcheck",
            "random"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_imports_are_at_the_top_of_the_file_and_never_through_importlib(module):
    tree = _tree(module)
    nested = [f"line {node.lineno}" for top in tree.body
              if not isinstance(top, (ast.Import, ast.ImportFrom))
              for node in ast.walk(top) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not nested, f"autograd/{module}.py imports inside a function, class or block: {nested}"
    seen_code = False
    for top in tree.body:
        is_docstring = (isinstance(top, ast.Expr) and isinstance(top.value, ast.Constant)
                        and isinstance(top.value.value, str))
        if isinstance(top, (ast.Import, ast.ImportFrom)):
            assert not seen_code, (f"autograd/{module}.py: import at line {top.lineno} comes "
                                   "after code; imports belong at the top of the file")
        elif not is_docstring:
            seen_code = True
    names = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    modules = {(node.module or "").split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom)}
    calls = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Name)
             and node.id in ("__import__", "importlib")]
    assert "importlib" not in names | modules and not calls, f"autograd/{module}.py uses importlib"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    # the known edges are there: the parse found the imports
    assert {"grad_mode"} <= graph["tensor"] and {"tensor"} <= graph["function"]
    assert {"function", "tensor"} <= graph["ops"]
    # Kahn's algorithm: repeatedly remove modules whose imports are all removed
    remaining = {m: set(deps) - {m} for m, deps in graph.items()}
    assert all(m not in deps for m, deps in graph.items()), "a module imports itself"
    order = []
    while remaining:
        ready = sorted(m for m, deps in remaining.items() if not deps & set(remaining))
        if not ready:
            raise AssertionError(f"import cycle among {sorted(remaining)}: "
                                 f"{ {m: sorted(d & set(remaining)) for m, d in remaining.items()} }")
        order += ready
        for m in ready:
            del remaining[m]
    assert order.index("tensor") < order.index("function") < order.index("ops")
    assert order[-1] == "__init__"


def test_tensor_py_knows_no_op():
    assert "ops" not in _graph()["tensor"] and "function" not in _graph()["tensor"]


def test_the_package_imports_its_modules_in_dependency_order():
    init = _tree("__init__")
    first = next(node for node in init.body if isinstance(node, ast.ImportFrom))
    listed = [alias.name for alias in first.names]
    assert listed.index("grad_mode") < listed.index("tensor") < listed.index("function") \
        < listed.index("ops"), listed


def test_no_package_attribute_shadows_a_submodule():
    # the defect behind the old importlib call: ``tensor`` the factory hid ``tensor.py``
    import minitorch_ser

    for module in MODULES:
        if module == "__init__":
            continue
        attribute = getattr(autograd_package, module, None)
        assert attribute is None or attribute is sys.modules[f"{PACKAGE}.{module}"], \
            f"minitorch_ser.autograd.{module} is {attribute!r}, not the submodule"
    top = Path(minitorch_ser.__file__).parent
    for sub in [p.stem for p in top.glob("*.py")] + [p.name for p in top.iterdir() if p.is_dir()]:
        if f"minitorch_ser.{sub}" in sys.modules:  # (getattr would import a lazy subpackage)
            attribute = getattr(minitorch_ser, sub, None)
            assert attribute is None or attribute is sys.modules[f"minitorch_ser.{sub}"], sub


@pytest.mark.parametrize("first", ["function", "ops", "gradcheck", "tensor"])
def test_any_core_module_imported_first_gives_a_complete_tensor(first):
    # a fresh interpreter: no import order left over from other tests
    code = (f"import {PACKAGE}.{first}\n"
            f"from {PACKAGE}.tensor import Tensor\n"
            "t = Tensor([1.0, 2.0], requires_grad=True)\n"
            "(t * t + 1).sum().backward()\n"
            "assert list(t.grad) == [2.0, 4.0], t.grad\n"
            "assert Tensor.sum.__qualname__ == 'Tensor.sum'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_op_method_is_installed_from_ops_and_not_defined_twice():
    from minitorch_ser.autograd import ops
    from minitorch_ser.autograd.tensor import Tensor

    installed = {name for name, member in vars(ops._TensorOpMethods).items()
                 if callable(member) or isinstance(member, property)}
    assert {"__add__", "__matmul__", "__getitem__", "sum", "reshape", "T"} <= installed
    for name in installed:
        assert vars(Tensor)[name] is vars(ops._TensorOpMethods)[name], name
    # tensor.py's own class body defines none of them
    tensor_class = next(node for node in _tree("tensor").body
                        if isinstance(node, ast.ClassDef) and node.name == "Tensor")
    own = {node.name for node in tensor_class.body if isinstance(node, ast.FunctionDef)}
    assert own and not own & installed, own & installed
