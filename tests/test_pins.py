"""One pins module: versions live there and nowhere else, and lockstep groups agree."""

from __future__ import annotations

import ast
import re

from components import pins
from tests.conftest import REPO

VERSION_LITERAL = re.compile(r"^v?\d+\.\d+(\.\d+)?([-+.][\w.]+)?$")


def string_constants(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_no_version_literal_outside_the_pins_module():
    offenders = []
    for path in sorted([*(REPO / "components").rglob("*.py"), *(REPO / "infra").rglob("*.py")]):
        if path.name == "pins.py":
            continue
        for line, value in string_constants(path):
            if VERSION_LITERAL.match(value):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {value!r}")
    assert offenders == []


def test_the_check_finds_a_version_literal(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('CHART = "1.30.5"\nAPI = "v1beta1"\nIAM = "2012-10-17"\n')
    assert [value for _, value in string_constants(sample) if VERSION_LITERAL.match(value)] == ["1.30.5"]


def test_lockstep_groups_share_one_version():
    assert {pin.version for pin in (pins.ISTIO_BASE, pins.ISTIO_CNI, pins.ISTIOD, pins.ISTIO_GATEWAY)} == {pins.ISTIO_VERSION}
    assert {pin.version for pin in (pins.KSERVE_CRD, pins.KSERVE_RESOURCES, pins.KSERVE_RUNTIMES)} == {pins.KSERVE_VERSION}
    assert pins.KNATIVE_OPERATOR.version == f"v{pins.KNATIVE_SERVING_VERSION}"


def test_cluster_autoscaler_matches_every_supported_kubernetes_version():
    assert pins.KUBERNETES_VERSION in pins.SUPPORTED_KUBERNETES_VERSIONS
    for version in pins.SUPPORTED_KUBERNETES_VERSIONS:
        assert pins.CLUSTER_AUTOSCALER_IMAGE_TAGS[version].startswith(f"v{version}.")
