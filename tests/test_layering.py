"""Import layering (STYLE.md rule 10, DESIGN.md "Layers on top" and "Backend seam").

* ``nn/``, ``optim/``, ``utils/``, ``mx/``, ``vision/`` and ``examples/`` import only the
  public fluxion API: no ``fluxion._backend``, no ``fluxion.autograd.engine``, no private
  module or name (``fluxion.ops._registry``, ``fluxion.tensor._wrap``), no CuPy; relative
  imports are resolved before they are checked.
  NumPy is off limits there too, except in ``utils/data`` (it accepts NumPy datasets) and
  ``vision`` (images and arrays).
* NumPy is imported only by the backend seam and the few core files that convert to and from host
  arrays. Op modules may import it for dtype constants and ``isinstance`` checks only (they get
  ``xp`` for compute); every other importer is listed below with its reason, so that a new one
  fails this test.

The checks parse the source (``ast``), so lazy imports inside functions are seen too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "fluxion"

UPPER_LAYERS = ("nn", "optim", "utils", "mx", "vision", "examples")
FORBIDDEN = ("fluxion._backend", "fluxion.autograd.engine", "fluxion.ops._", "cupy")

# Files (relative to src/fluxion) that may import NumPy freely: the backend seam and the core
# files that own dtypes, host conversion, printing and random number generation.
NUMPY_OWNERS = ("_backend/", "dtypes.py", "creation.py", "tensor.py", "_format.py", "random.py")
# utils/data accepts NumPy datasets (STYLE rule 10); vision decodes image files and arrays.
NUMPY_IN_UPPER = ("utils/data/", "vision/")
OP_MODULES = "ops/"
# What an op module may read from NumPy: types and dtype constants, never functions that compute.
NUMPY_CONSTANTS = frozenset(
    {
        "ndarray",
        "generic",
        "number",
        "integer",
        "signedinteger",
        "unsignedinteger",
        "floating",
        "bool_",
        "dtype",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "float16",
        "float32",
        "float64",
        "intp",
        "ufunc",
    }
)
# Existing exceptions to the rules above, each with its reason. Shrink this list; never grow it
# without a reason a reviewer agrees with.
NUMPY_EXCEPTIONS = {
    "ops/_registry.py": "xp = numpy: the CPU array module until the device seam picks it per call",
    "ops/_grad_helpers.py": "broadcast_to on raw arrays in first-order (array-rule) backward",
    "ops/indexing.py": "host-side normalisation of index keys (asarray, broadcast_shapes, arange)",
    "autograd/gradcheck.py": "finite differences on float64 host copies of the inputs",
    "testing/__init__.py": "assert_close compares host copies and reports the worst element",
    "serialization.py": "save/load and safetensors turn tensors into host bytes and back",
}


# ---------------------------------------------------------------------------- AST helpers


def _py_files(*subdirs: str) -> list[Path]:
    out = []
    for sub in subdirs:
        root = PKG / sub
        if root.is_dir():
            out.extend(sorted(root.rglob("*.py")))
        elif root.with_suffix(".py").is_file():
            out.append(root.with_suffix(".py"))
    return out


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts)


def _package_of(module: str, is_init: bool) -> str:
    return module.rsplit(".", 1)[0] if not is_init else module.removesuffix(".__init__")


def _imports(source: str, module: str, is_init: bool = False) -> list[tuple[str, int]]:
    """Every module (and ``module.name`` for from-imports) that ``source`` imports, absolute."""
    package = _package_of(module, is_init)
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            out.append((target, node.lineno))
            out.extend((f"{target}.{alias.name}", node.lineno) for alias in node.names)
    return out


def _file_imports(path: Path) -> list[tuple[str, int]]:
    return _imports(path.read_text(), _module_name(path), path.name == "__init__.py")


def _private(mod: str) -> bool:
    """A fluxion module or name that is not public (a component starting with ``_``)."""
    parts = mod.split(".")
    return parts[0] == "fluxion" and any(
        p.startswith("_") and p != "__init__" and p != "*" for p in parts[1:]
    )


def _upper_layer_violations(
    imports: list[tuple[str, int]], numpy_ok: bool, own: str = "fluxion.<none>"
) -> list[str]:
    """``own`` is the file's layer package (``fluxion.optim``): its private helpers are its own."""
    bad = []
    for mod, line in imports:
        if mod.startswith(FORBIDDEN) or mod in ("cupy",):
            bad.append(f"line {line}: imports core internal {mod}")
        elif _private(mod) and not mod.startswith(own + "."):
            bad.append(f"line {line}: imports private {mod}")
        elif not numpy_ok and (mod == "numpy" or mod.startswith("numpy.")):
            bad.append(f"line {line}: imports {mod} (use the public fluxion API)")
    return bad


def _numpy_aliases(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    names.add(alias.asname or "numpy")
    return names


def _numpy_violations(source: str, rel: str) -> list[str]:
    """NumPy imports that ``rel`` (a path under src/fluxion) may not have."""
    tree = ast.parse(source)
    imports = [
        (n.lineno, a.name)
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
        if a.name == "numpy" or a.name.startswith("numpy.")
    ]
    imports += [
        (n.lineno, n.module)
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "numpy"
    ]
    if not imports or rel.startswith(NUMPY_OWNERS + NUMPY_IN_UPPER) or rel in NUMPY_EXCEPTIONS:
        return []
    if not rel.startswith(OP_MODULES):
        return [f"line {line}: imports {mod}" for line, mod in imports]
    bad = [
        f"line {line}: 'from {mod} import ...' (op modules use `import numpy as np` for "
        "constants only)"
        for line, mod in imports
        if not any(isinstance(n, ast.Import) and n.lineno == line for n in ast.walk(tree))
    ]
    aliases = _numpy_aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases and node.attr not in NUMPY_CONSTANTS:
                bad.append(
                    f"line {node.lineno}: {node.value.id}.{node.attr} computes with NumPy "
                    "(ops get `xp` from the backend seam)"
                )
    return bad


def _rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


# ---------------------------------------------------------------------------- the tests


def test_layering_upper_layers_import_only_public_api():
    files = _py_files(*UPPER_LAYERS)
    assert files, "no upper-layer files found: is the source tree where this test expects?"
    bad = []
    for path in files:
        numpy_ok = _rel(path).startswith(NUMPY_IN_UPPER)
        own = "fluxion." + _rel(path).split("/")[0].removesuffix(".py")
        bad += [
            f"{_rel(path)}: {v}"
            for v in _upper_layer_violations(_file_imports(path), numpy_ok, own)
        ]
    assert not bad, "upper layers must use the public fluxion API:\n" + "\n".join(bad)


def test_layering_numpy_only_in_backend_and_core():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        bad += [f"{_rel(path)}: {v}" for v in _numpy_violations(path.read_text(), _rel(path))]
    assert not bad, "NumPy outside the backend seam and core files:\n" + "\n".join(bad)


def test_layering_cupy_only_in_backend():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if _rel(path).startswith("_backend/"):
            continue
        bad += [
            f"{_rel(path)}: line {line}: imports {mod}"
            for mod, line in _file_imports(path)
            if mod == "cupy" or mod.startswith("cupy.")
        ]
    assert not bad, "CuPy is imported lazily by fluxion._backend only:\n" + "\n".join(bad)


def test_layering_numpy_exceptions_are_still_needed():
    """An exception whose file no longer imports NumPy (or is gone) must leave the list."""
    stale = []
    for rel in NUMPY_EXCEPTIONS:
        path = PKG / rel
        if not path.is_file() or not any(
            mod == "numpy" or mod.startswith("numpy.") for mod, _ in _file_imports(path)
        ):
            stale.append(rel)
    assert not stale, f"remove these from NUMPY_EXCEPTIONS: {stale}"


# ---------------------------------------------------------------------------- self-checks

BAD_UPPER = """
import cupy
import numpy as np
from fluxion._backend import xp
from fluxion.autograd.engine import Node
from ..ops._registry import defop
from ..autograd import engine
from ..tensor import _wrap
from .. import _format
"""
GOOD_UPPER = """
from __future__ import annotations
import math
import fluxion
from .. import ops as _ops
from ..ops import nn_ops as _k
from ..tensor import Tensor
from ..autograd import grad_mode
from . import functional
"""


def test_layering_self_check_detects_forbidden_imports():
    imports = _imports(BAD_UPPER, "fluxion.nn.functional")
    bad = _upper_layer_violations(imports, numpy_ok=False)
    for needle in (
        "cupy",
        "numpy",
        "fluxion._backend",
        "fluxion.autograd.engine",
        "fluxion.ops._registry",
        "fluxion.tensor._wrap",
        "fluxion._format",
    ):
        assert any(needle in v for v in bad), f"{needle} not detected in {bad}"
    # relative imports resolve against the file's package (two dots from nn/modules/ is nn/)
    deeper = dict(_imports(BAD_UPPER, "fluxion.nn.modules.linear"))
    assert "fluxion.nn.ops._registry" in deeper
    assert "fluxion.ops._registry" not in deeper


def test_layering_self_check_resolves_relative_imports_from_package_init():
    imports = dict(_imports("from ..autograd import engine\n", "fluxion.nn.__init__", True))
    assert "fluxion.autograd.engine" in imports
    assert _upper_layer_violations(list(imports.items()), numpy_ok=False)


def test_layering_self_check_accepts_public_imports():
    imports = _imports(GOOD_UPPER, "fluxion.nn.functional")
    assert _upper_layer_violations(imports, numpy_ok=False) == []


@pytest.mark.parametrize(
    ("source", "rel", "n_bad"),
    [
        ("import numpy as np\nx = np.zeros(3)\n", "autograd/new.py", 1),
        ("import numpy as np\nx = np.zeros(3)\n", "ops/new_ops.py", 1),
        ("from numpy import zeros\n", "ops/new_ops.py", 1),
        ("import numpy as np\nok = isinstance(1, np.ndarray) or np.int64\n", "ops/new_ops.py", 0),
        ("import numpy as np\nx = np.zeros(3)\n", "_backend/__init__.py", 0),
        ("import numpy as np\nx = np.zeros(3)\n", "utils/data/dataset.py", 0),
        ("def f():\n    import numpy\n    return numpy.ones(1)\n", "nn/functional.py", 1),
    ],
)
def test_layering_self_check_numpy_rule(source, rel, n_bad):
    assert len(_numpy_violations(source, rel)) == n_bad
