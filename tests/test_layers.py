"""The layering contract: the pure layers and the CLI never need ``pulumi``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.conftest import REPO

# components/charts renders the pinned charts with Helm's Go SDK (helm-python-sdk, a native library
# called through ctypes): deterministic and offline like the render layer, so it sits beside it (layer
# 2b: it may read catalog and render, never pulumi), but it is not part of the pure render layer
# (that stays plain Python), and the CLI imports it only when --charts is given.
PURE_PACKAGES = ("components/catalog", "components/render", "components/charts", "components/review", "components/cli")
PURE_MODULES = ("components/__init__.py", "components/platform_names.py", "components/pins.py")
LAYERS = ("components/catalog", "components/render", "components/charts", "components/review", "components/cli",
          "components/pulumi")


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def pure_files():
    for package in PURE_PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))
    for module in PURE_MODULES:
        yield REPO / module


def test_pure_layers_do_not_import_pulumi():
    offenders = [
        str(path.relative_to(REPO))
        for path in pure_files()
        if any(name == "pulumi" or name.startswith(("pulumi.", "pulumi_")) for name in imported_modules(path))
    ]
    assert offenders == []


def test_pure_layers_import_with_pulumi_unavailable():
    """Importing with ``pulumi`` blocked proves no indirect import drags it in either."""
    code = (
        "import sys\n"
        "for name in ('pulumi', 'pulumi_aws', 'pulumi_kubernetes'):\n"
        "    sys.modules[name] = None\n"
        "import components.catalog, components.render.stack_render, components.cli\n"
        "import components.review.compare, components.review.endpoints, components.cli.codeowners\n"
        "import components.charts.stack_charts, components.charts.values_check\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


# Which packages each package may import from: catalog <- render <- review/cli <- pulumi.
ALLOWED_IMPORTS = {
    "components/catalog": set(),
    "components/render": {"components.catalog"},
    "components/charts": {"components.catalog", "components.render"},
    "components/review": {"components.catalog", "components.render", "components.cli.inputs"},
    "components/cli": {"components.catalog", "components.render", "components.charts", "components.review"},
    "components/pulumi": {"components.catalog", "components.render", "components.review.endpoints"},
}


def test_imports_go_in_one_direction():
    offenders = []
    for package, allowed in ALLOWED_IMPORTS.items():
        own = package.replace("/", ".")
        for path in sorted((REPO / package).rglob("*.py")):
            for name in imported_modules(path):
                layer = next((layer.replace("/", ".") for layer in LAYERS if name.startswith(layer.replace("/", "."))), None)
                if layer and layer != own and not any(name.startswith(prefix) for prefix in allowed):
                    offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


def test_every_layer_is_a_folder():
    """The components' top level holds only the layer packages and the leaf modules shared by all."""
    loose = sorted(path.name for path in (REPO / "components").glob("*.py"))
    assert loose == ["__init__.py", "pins.py", "platform_names.py"]
    assert all((REPO / layer / "__init__.py").is_file() for layer in LAYERS)
