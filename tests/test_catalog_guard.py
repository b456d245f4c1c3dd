"""The catalog guard (components/render/catalog_guard.py): a ValidatingAdmissionPolicy that keeps
team owners from changing, deleting or forging the catalog's InferenceServices.

The CEL expressions are evaluated here with a CEL implementation (``common-expression-language``,
cel-rust's Python bindings) against admission requests shaped like the API server's
(``request.userInfo.username``, ``request.operation``, ...: k8s.io/api admission/v1
AdmissionRequest). Kubernetes' own CEL environment adds libraries (lists, strings, authorizer)
the expressions do not use; only standard CEL (``in``, ``exists``, ``startsWith``, ``+``) is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from components import pins
from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.stack_settings import StackSettings
from components.catalog.stacks import settings_from_config
from components.platform_names import KSERVE_NAMESPACE, KSERVE_RELEASE, TEAM_LABEL
from components.render.catalog_guard import (
    CATALOG_GUARD,
    GARBAGE_COLLECTOR,
    KSERVE_CONTROLLER,
    NAMESPACE_CONTROLLER,
    kubernetes_username,
    render_catalog_guard,
)
from components.render.stack_render import render_stack
from components.render.team_objects import OWNER_WRITE_VERBS, render_owners_role
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, REPO, STACK_CONFIG, STACKS_DIR

cel = pytest.importorskip("cel")

SHARED = Path(os.environ.get("MODELPLANE_SHARED_DIR", REPO.parent / "shared"))
KSERVE_CHART = SHARED / "charts" / f"kserve@{pins.KSERVE_VERSION}" / "kserve-resources"
KSERVE_CRD_CHART = SHARED / "charts" / f"kserve-crd@{pins.KSERVE_VERSION}" / "kserve-crd"
DEPLOYER = "arn:aws:iam::123456789012:role/deployer"


def _rendered(stack_name: str):
    catalog = load_catalog(MODELS_DIR, "models")
    stack = load_stack(STACKS_DIR, stack_name, "stacks")
    return render_stack(resolve_deployment(catalog, stack, stack_names(STACKS_DIR)))


def _guard(stack_name: str = "prod") -> tuple[dict, dict]:
    objects = {obj["kind"]: obj for obj in _rendered(stack_name).objects if obj["metadata"]["name"] == CATALOG_GUARD}
    return objects["ValidatingAdmissionPolicy"], objects["ValidatingAdmissionPolicyBinding"]


def _guard_for(deployers: list[str]) -> dict:
    """The policy of a stack whose deployers are ``deployers`` (only the settings matter to it)."""
    settings = settings_from_config({**STACK_CONFIG, "modelplane:deployer_role_arns": deployers}, "stack")
    return render_catalog_guard(SimpleNamespace(stack=SimpleNamespace(settings=settings)))[0]


def _request(username: str, operation: str = "UPDATE", groups: tuple[str, ...] = ()) -> dict:
    return {
        "operation": operation,
        "name": "fraud-detector",
        "namespace": "fraud",
        "kind": {"group": "serving.kserve.io", "version": "v1beta1", "kind": "InferenceService"},
        "userInfo": {"username": username, "groups": list(groups) + ["system:authenticated"]},
    }


def admitted(policy: dict, request: dict) -> bool:
    """Evaluate the policy's variables, then each validation, as the API server does."""
    variables = {}
    for variable in policy["spec"]["variables"]:
        variables[variable["name"]] = cel.evaluate(variable["expression"], {"request": request, "variables": variables})
    context = {"request": request, "variables": variables}
    results = [cel.evaluate(v["expression"], context) for v in policy["spec"]["validations"]]
    assert all(isinstance(result, bool) for result in results)
    return all(results)


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_the_guard_covers_everything_owners_may_write(stack):
    """Whatever the owners' Role lets them write, the guard matches for create, update and delete,
    so a later grant cannot silently open the catalog's objects."""
    policy, binding = _guard(stack)
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    guarded = {(group, resource) for rule in rules for group in rule["apiGroups"] for resource in rule["resources"]
               if set(rule["operations"]) == {"CREATE", "UPDATE", "DELETE"}}
    deployment = _rendered(stack).deployment
    role = render_owners_role(next(iter(deployment.teams)), deployment)
    writable = {(group, resource) for rule in role["rules"] if set(rule["verbs"]) & set(OWNER_WRITE_VERBS)
                for group in rule["apiGroups"] for resource in rule["resources"]}
    assert ("serving.kserve.io", "inferenceservices") in writable
    assert writable <= guarded
    # Subresources (status) are not listed: KServe writes status through them unguarded.
    assert not any("/" in resource for _, resource in guarded)
    assert binding["spec"] == {"policyName": CATALOG_GUARD, "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"


def test_the_guard_matches_only_catalog_objects_in_team_namespaces():
    policy, _ = _guard()
    constraints = policy["spec"]["matchConstraints"]
    objects = _rendered("prod").objects
    services = [obj for obj in objects if obj["kind"] == "InferenceService"]
    selector = constraints["objectSelector"]["matchLabels"]
    assert services and all(selector.items() <= obj["metadata"]["labels"].items() for obj in services)
    [expression] = constraints["namespaceSelector"]["matchExpressions"]
    assert expression == {"key": TEAM_LABEL, "operator": "Exists"}
    team_namespaces = {obj["metadata"]["name"] for obj in objects
                       if obj["kind"] == "Namespace" and TEAM_LABEL in obj["metadata"]["labels"]}
    assert {obj["metadata"]["namespace"] for obj in services} <= team_namespaces
    assert "kserve" not in team_namespaces and "istio-system" not in team_namespaces


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE"])
def test_only_deployers_and_the_controllers_that_must_write_are_admitted(operation):
    policy = _guard_for([DEPLOYER, "arn:aws:iam::123456789012:role/ops/platform/break-glass",
                         "arn:aws:iam::123456789012:user/ci-bot"])
    allowed = [
        # The deploy role, whatever session name CI gives it.
        "arn:aws:sts::123456789012:assumed-role/deployer/GitHubActions",
        "arn:aws:sts::123456789012:assumed-role/deployer/1733130000000000000",
        # A role with a path: EKS names it without the path.
        "arn:aws:sts::123456789012:assumed-role/break-glass/alice",
        "arn:aws:iam::123456789012:user/ci-bot",
        KSERVE_CONTROLLER,
        NAMESPACE_CONTROLLER,
        GARBAGE_COLLECTOR,
    ]
    refused = [
        # A team owner, however they authenticate.
        "arn:aws:sts::123456789012:assumed-role/ml-fraud/bob",
        # Lookalikes of the deployer: another role whose name starts the same, another account.
        "arn:aws:sts::123456789012:assumed-role/deployer-sandbox/GitHubActions",
        "arn:aws:sts::999999999999:assumed-role/deployer/GitHubActions",
        "arn:aws:iam::123456789012:user/ci-bot2",
        "system:serviceaccount:fraud:default",
        "system:serviceaccount:kserve:default",
        "kubernetes-admin",
    ]
    for username in allowed:
        assert admitted(policy, _request(username, operation)), username
    for username in refused:
        assert not admitted(policy, _request(username, operation, groups=("ml-fraud",))), username


def test_dry_runs_are_admitted_since_they_change_nothing():
    """pulumi preview sends server-side apply dry runs (dryRun: true in the AdmissionRequest)."""
    policy = _guard_for([DEPLOYER])
    request = _request("arn:aws:sts::123456789012:assumed-role/preview/GitHubActions")
    assert not admitted(policy, request)
    assert not admitted(policy, {**request, "dryRun": False})
    assert admitted(policy, {**request, "dryRun": True})


def test_cluster_admins_are_refused_too_unless_they_deploy():
    """Membership in system:masters does not bypass admission policies, so the guard holds for
    every human; the platform team changes the catalog through a pull request like everyone."""
    policy = _guard_for([DEPLOYER])
    request = _request("arn:aws:sts::123456789012:assumed-role/platform-admins/carol", groups=("system:masters",))
    assert not admitted(policy, request)


def test_the_refusal_names_the_object_and_the_way_to_change_it():
    policy, _ = _guard()
    request = _request("arn:aws:sts::333333333333:assumed-role/ml-fraud/bob", "DELETE")
    [validation] = policy["spec"]["validations"]
    message = cel.evaluate(validation["messageExpression"], {"request": request})
    assert message.startswith("InferenceService fraud/fraud-detector belongs to the modelplane catalog")
    assert "DELETE by arn:aws:sts::333333333333:assumed-role/ml-fraud/bob is refused" in message
    assert "models/<team>/" in message and "pull request" in message


def test_each_stack_names_its_own_deployers():
    policy, _ = _guard("prod")
    prod = _rendered("prod").deployment.stack.settings.deployer_role_arns
    assert prod and all(arn.startswith("arn:aws:iam::333333333333:") for arn in prod)
    assert admitted(policy, _request("arn:aws:sts::333333333333:assumed-role/ci-deployer/GitHubActions"))
    assert not admitted(policy, _request("arn:aws:sts::222222222222:assumed-role/ci-deployer/GitHubActions"))


@pytest.mark.parametrize(
    ("arn", "username"),
    [
        ("arn:aws:iam::123456789012:role/deployer", ("prefix", "arn:aws:sts::123456789012:assumed-role/deployer/")),
        ("arn:aws:iam::123456789012:role/a/b/deployer", ("prefix", "arn:aws:sts::123456789012:assumed-role/deployer/")),
        ("arn:aws-us-gov:iam::123456789012:role/d", ("prefix", "arn:aws-us-gov:sts::123456789012:assumed-role/d/")),
        ("arn:aws:iam::123456789012:user/ci", ("exact", "arn:aws:iam::123456789012:user/ci")),
    ],
)
def test_eks_access_entry_usernames(arn, username):
    """Contract (EKS API reference, CreateAccessEntry: the response for principal
    ``arn:aws:iam::012345678910:role/my-role`` with no username given is
    ``arn:aws:sts::012345678910:assumed-role/my-role/{{SessionName}}``; the user guide's table of
    default usernames: an IAM user's is its ARN; a role's drops the role's path). The cluster's
    authentication mode is API (components/pulumi/cluster.py), so access entries alone name users."""
    assert kubernetes_username(arn) == username


def test_a_stack_without_deployers_is_an_error_naming_the_key():
    config = {key: value for key, value in STACK_CONFIG.items() if key != "modelplane:deployer_role_arns"}
    with pytest.raises(Exception) as raised:
        settings_from_config(config, "stacks/Pulumi.dev.yaml")
    problems = [str(problem) for problem in raised.value.problems]
    assert problems == [
        "stacks/Pulumi.dev.yaml: modelplane:deployer_role_arns: required field is missing: "
        + StackSettings.model_fields["deployer_role_arns"].description
    ]


def test_validating_admission_policy_v1_is_served_by_every_supported_kubernetes():
    """admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy is GA from Kubernetes 1.30
    (kubernetes/api admissionregistration/v1/types.go:141 @v0.30.0 has the type; absent before)."""
    for version in pins.SUPPORTED_KUBERNETES_VERSIONS:
        major, minor = map(int, version.split("."))
        assert (major, minor) >= (1, 30), version


def _chart_or_skip(path: Path) -> Path:
    if path.is_dir():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{path} is missing: CI must provide ../shared/charts")
    pytest.skip(f"{path} is missing (../shared/charts)")


def test_kserve_controller_identity_matches_the_chart():
    """Contract: the KServe controller runs as ServiceAccount kserve-controller-manager
    (charts/kserve-resources/files/kserve/resources.yaml:527 @v0.20.0) in the release's namespace;
    it patches the InferenceService itself to add and remove its finalizer
    (pkg/controller/v1beta1/inferenceservice/controller.go:186-209 @v0.20.0), so it must be admitted."""
    import helm_python

    release = next(r for r in _rendered("prod").releases if r.name == KSERVE_RELEASE)
    assert release.namespace == KSERVE_NAMESPACE
    chart = helm_python.Chart.load(str(_chart_or_skip(KSERVE_CHART)))
    files = chart.render(values=release.values, name=KSERVE_RELEASE, namespace=release.namespace)
    deployments = [doc for text in files.values() for doc in yaml.safe_load_all(text)
                   if doc and doc.get("kind") == "Deployment" and doc["metadata"]["name"] == "kserve-controller-manager"]
    [deployment] = deployments
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"].get("namespace", release.namespace)
    assert KSERVE_CONTROLLER == f"system:serviceaccount:{namespace}:{account}"


def test_inference_service_status_is_a_subresource():
    """Contract: the InferenceService CRD serves status as a subresource
    (charts/kserve-crd/templates/serving.kserve.io_inferenceservices.yaml:39128 @v0.20.0), and
    KServe writes status through it (controller.go:438 ``r.Status().Update``), which a rule for
    ``inferenceservices`` alone does not match: the guard never blocks status updates."""
    crd_file = _chart_or_skip(KSERVE_CRD_CHART) / "templates" / "serving.kserve.io_inferenceservices.yaml"
    crd = next(doc for doc in yaml.safe_load_all(crd_file.read_text()) if doc and doc.get("kind") == "CustomResourceDefinition")
    served = [version for version in crd["spec"]["versions"] if version["served"]]
    assert served and all(version.get("subresources", {}).get("status") == {} for version in served)
