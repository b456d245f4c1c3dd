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


def test_the_base_side_of_diff_reads_every_pin_without_running_the_file():
    """diff renders the base with the pins of <ref>:components/pins.py, read as literals: every
    constant of today's file must be readable so, with the value the module has."""
    from components.review.base_pins import read_pins

    read = read_pins((REPO / "components" / "pins.py").read_text(encoding="utf-8"), "pins.py")
    constants = {name: getattr(pins, name) for name in dir(pins) if name.isupper()}
    assert read == constants


def test_a_pin_that_needs_running_code_is_a_problem_naming_it():
    import pytest

    from components.catalog.problems import InputError
    from components.review.base_pins import read_pins

    with pytest.raises(InputError) as raised:
        read_pins('A = "1.0"\nB = open("/etc/passwd").read()\nC = f"{A:>5}"\n', "base:components/pins.py")
    assert [(p.file, p.field) for p in raised.value.problems] == [
        ("base:components/pins.py", "B"), ("base:components/pins.py", "C")]
    assert "write the version out" in raised.value.problems[0].message


def test_rendering_with_base_pins_restores_the_running_ones():
    from components.review.base_pins import rendering_with

    running, kubernetes = pins.ISTIO_GATEWAY, pins.KUBERNETES_VERSION
    older = pins.ChartPin("gateway", "1.30.3", pins.ISTIO_REPOSITORY)
    with rendering_with({"ISTIO_GATEWAY": older, "NOT_A_PIN_ANY_MORE": "x", "KUBERNETES_VERSION": ("1.35",)}):
        assert pins.ISTIO_GATEWAY is older
        assert not hasattr(pins, "NOT_A_PIN_ANY_MORE")
        assert pins.KUBERNETES_VERSION is kubernetes  # another type: left as it is
    assert pins.ISTIO_GATEWAY is running
