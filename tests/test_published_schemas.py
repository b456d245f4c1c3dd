"""Rendered objects are valid for the real APIs, checked with published schemas and typed models."""

from __future__ import annotations

import copy

import pytest

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR
from tests.schema_checks import schema_errors

# Kinds no published package describes: the Knative operator publishes no typed models or
# schema package for KnativeServing (cloudcoil's knative-serving models cover serving.knative.dev
# only). Its fields are pinned by the golden files and tests/test_platform_objects.py.
# The External Secrets Operator's kinds have no typed model on PyPI that works offline, and its CRDs
# are not among ../shared/crds; their fields are pinned by tests/test_secrets.py,
# tests/test_upstream_contracts.py and the golden files.
KINDS_WITHOUT_PUBLISHED_MODELS: set[str] = {"KnativeServing", "ExternalSecret", "SecretStore"}


def bundled_objects(stack: str) -> list[dict]:
    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))
    return render_stack_objects(deployment)


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_every_bundled_object_is_valid(stack):
    unchecked, errors = set(), []
    for obj in bundled_objects(stack):
        found = schema_errors(obj)
        if found is None:
            unchecked.add(obj["kind"])
        else:
            errors.extend(f"{object_id(obj)}: {error}" for error in found)
    assert errors == []
    assert unchecked <= KINDS_WITHOUT_PUBLISHED_MODELS


def first_of_kind(kind: str) -> dict:
    return copy.deepcopy(next(obj for obj in bundled_objects("prod") if obj["kind"] == kind))


@pytest.mark.parametrize(
    ("kind", "break_it"),
    [
        ("Namespace", lambda o: o["metadata"].__setitem__("lables", {})),
        ("ResourceQuota", lambda o: o["spec"].__setitem__("hardd", {})),
        ("Role", lambda o: o["rules"][0].__setitem__("verb", ["get"])),
        ("ServiceAccount", lambda o: o.__setitem__("automountServiceAccountToken", "no")),
        ("InferenceService", lambda o: o["spec"]["predictor"].__setitem__("minReplica", 1)),
        ("InferenceService", lambda o: o["spec"]["predictor"]["model"].__setitem__("storageURI", "s3://x/y")),
        ("InferenceService", lambda o: o["spec"]["predictor"].__setitem__("maxReplicas", "3")),
        ("InferenceService", lambda o: o["spec"]["predictor"]["model"]["resources"].__setitem__("limit", {})),
        ("VirtualService", lambda o: o["spec"]["http"][0].__setitem__("rewrites", {})),
        ("AuthorizationPolicy", lambda o: o["spec"]["rules"][0]["from"][0]["source"].__setitem__("principal", [])),
        ("PeerAuthentication", lambda o: o["spec"]["mtls"].__setitem__("mode", 3)),
        ("Gateway", lambda o: o["spec"]["servers"][0].__setitem__("host", ["x"])),
        ("Certificate", lambda o: o["spec"].__setitem__("dnsName", ["x"])),
        ("ClusterIssuer", lambda o: o["spec"]["acme"]["solvers"][0]["dns01"]["route53"].__setitem__("hostedZoneId", "Z1")),
        ("ConfigMap", lambda o: o.__setitem__("datas", {})),
        ("ValidatingAdmissionPolicy", lambda o: o["spec"]["validations"][0].__setitem__("expresion", "true")),
        ("ValidatingAdmissionPolicyBinding", lambda o: o["spec"].__setitem__("validationAction", ["Deny"])),
    ],
)
def test_the_checks_catch_mistakes(kind, break_it):
    """Each checker fails on a typo or a wrong type: the positive results above mean something."""
    obj = first_of_kind(kind)
    assert schema_errors(obj) == []
    break_it(obj)
    assert schema_errors(obj), f"a broken {kind} passed"
