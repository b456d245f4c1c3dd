"""TLS and DNS of the shared gateway: the stack settings, the ClusterIssuer and Certificate, and
cert-manager's Route 53 role, checked against cert-manager's chart and CRDs at the pinned version.

The chart is read from ``../shared/charts/cert-manager@v1.21.1`` (pins.py says v1.21.2; INDEX.md
there: no chart change on release-1.21 since). What lives only in cert-manager's Go code is pinned
as literals with the file and line at v1.21.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.stacks import settings_from_engine_config
from components.platform_names import CERT_MANAGER_NAMESPACE, CERT_MANAGER_RELEASE, CERT_MANAGER_SERVICE_ACCOUNT
from components.render.iam import acme_challenge_records, cert_manager_dns_policy, cert_manager_role_name
from components.render.platform_objects import gateway_dns_names
from components.render.stack_render import render_stack
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, REPO, STACK_CONFIG, STACKS_DIR

SHARED = Path(os.environ.get("MODELPLANE_SHARED_DIR", REPO.parent / "shared"))
CHART = SHARED / "charts" / "cert-manager@v1.21.1" / "cert-manager"
VALIDATE_CRDS = SHARED / "tools" / "validate_crds.py"
SOURCE = "stacks/Pulumi.dev.yaml"
TLS = {"tls": {"credential_name": "models-tls", "cluster_issuer": "letsencrypt-dns"}}
DNS = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "zone": "example.com"}


def _shared_or_skip(path: Path) -> Path:
    if path.exists():
        return path
    message = f"{path} is missing (../shared, beside the repository)"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must provide it")
    pytest.skip(message)


def _rendered(stack_name: str):
    catalog = load_catalog(MODELS_DIR, "models")
    stack = load_stack(STACKS_DIR, stack_name, "stacks")
    return render_stack(resolve_deployment(catalog, stack, stack_names(STACKS_DIR)))


def _problems(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_stack(workspace.stacks, "dev", "stacks")
    return [str(problem) for problem in caught.value.problems]


# --- stack settings ---------------------------------------------------------------------------

def test_an_issuer_without_the_hosted_zone_is_refused_with_the_fix(workspace):
    workspace.stack(gateway=TLS)
    [problem] = _problems(workspace)
    assert problem.startswith(f"{SOURCE}: modelplane:gateway.tls.cluster_issuer: modelplane creates the ClusterIssuer letsencrypt-dns")
    assert "set modelplane:dns.hosted_zone_id and modelplane:dns.zone" in problem
    assert "or remove cluster_issuer and keep the Secret models-tls in istio-ingress issued yourself" in problem


def test_a_pre_existing_secret_needs_no_zone(workspace):
    workspace.stack(gateway={"tls": {"credential_name": "models-tls"}})
    settings = load_stack(workspace.stacks, "dev", "stacks").settings
    assert settings.cluster_issuer is None and settings.dns is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"gateway": TLS, "dns": {**DNS, "zone": "example.org"}},
     "modelplane:dns.zone: example.org does not hold the domain models.test.example.com; name the hosted zone"),
    ({"gateway": TLS, "dns": {**DNS, "zone": "test.example.com.evil"}},
     "modelplane:dns.zone: test.example.com.evil does not hold the domain"),
    ({"gateway": TLS, "dns": {**DNS, "hosted_zone_id": "/hostedzone/Z0123"}},
     "modelplane:dns.hosted_zone_id: '/hostedzone/Z0123' is not a Route 53 hosted zone id; write the id "
     "alone, like Z0123456789ABCDEFGHIJ (without /hostedzone/)"),
    ({"gateway": TLS, "dns": {**DNS, "records": True}}, "modelplane:dns.records: unknown field"),
    ({"gateway": {"tls": {**TLS["tls"], "acme_server": "https://acme.example/directory"}}, "dns": DNS},
     "modelplane:gateway.tls.acme_server: the text 'https://acme.example/directory' is not allowed; use one "
     "of: letsencrypt, letsencrypt-staging"),
    ({"gateway": {"tls": {**TLS["tls"], "acme_email": "not an address"}}, "dns": DNS},
     "modelplane:gateway.tls.acme_email: 'not an address' is not an e-mail address; write one like "
     "platform-team@example.com"),
    ({"gateway": {"tls": {"credential_name": "models-tls", "acme_email": "ops@example.com"}}},
     "modelplane:gateway.tls: acme_email configure the ClusterIssuer modelplane creates; set cluster_issuer too"),
])
def test_tls_and_dns_settings_are_strict(workspace, changes, expected):
    workspace.stack(**changes)
    problems = _problems(workspace)
    assert any(problem.startswith(f"{SOURCE}: {expected}") for problem in problems), problems


def test_the_engine_reads_the_same_settings():
    config = {**{k: v if isinstance(v, str) else json.dumps(v) for k, v in STACK_CONFIG.items()},
              "modelplane:gateway": json.dumps({"tls": {**TLS["tls"], "acme_server": "letsencrypt-staging"}}),
              "modelplane:dns": json.dumps({**DNS, "manage_records": False})}
    settings = settings_from_engine_config(config, SOURCE)
    assert settings.dns is not None and settings.dns.manage_records is False
    assert settings.gateway.tls is not None and settings.gateway.tls.acme_server == "letsencrypt-staging"


# --- render -----------------------------------------------------------------------------------

def _cert_manager_objects(stack_name: str) -> dict[str, dict]:
    return {obj["kind"]: obj for obj in _rendered(stack_name).objects if obj["apiVersion"].startswith("cert-manager.io/")}


def test_stacks_without_an_issuer_render_no_cert_manager_objects():
    assert _cert_manager_objects("dev") == {}


@pytest.mark.parametrize("stack_name", ["prod", "staging"])
def test_the_cluster_issuer_solves_dns01_on_the_stacks_zone_with_ambient_credentials(stack_name):
    settings = load_stack(STACKS_DIR, stack_name, "stacks").settings
    objects = _cert_manager_objects(stack_name)
    issuer = objects["ClusterIssuer"]
    assert issuer["metadata"]["name"] == objects["Certificate"]["spec"]["issuerRef"]["name"] == settings.cluster_issuer
    [solver] = issuer["spec"]["acme"]["solvers"]
    # No accessKeyID / secretAccessKeySecretRef / role: the controller's IRSA credentials.
    # ClusterIssuers may use ambient credentials by default: defaultClusterIssuerAmbientCredentials
    # = true, internal/apis/config/controller/v1alpha1/defaults.go:68 @v1.21.1.
    assert solver["dns01"] == {"route53": {"region": settings.region, "hostedZoneID": settings.dns.hosted_zone_id}}
    server = issuer["spec"]["acme"]["server"]
    assert ("acme-staging-v02" in server) == (settings.gateway.tls.acme_server == "letsencrypt-staging")


def test_the_certificate_covers_every_gateway_name():
    certificate = _cert_manager_objects("prod")["Certificate"]
    deployment = _rendered("prod").deployment
    assert certificate["spec"]["dnsNames"] == gateway_dns_names(deployment)
    # The prod fixture has gRPC models, reached at <model>-<team>.<domain>.
    assert certificate["spec"]["dnsNames"] == ["models.example.com", "*.models.example.com"]


def _chart_documents(values: dict) -> list[dict]:
    import helm_python

    chart = helm_python.Chart.load(str(_shared_or_skip(CHART)))
    files = chart.render(values=values, name=CERT_MANAGER_RELEASE, namespace=CERT_MANAGER_NAMESPACE)
    documents = []
    for name, text in sorted(files.items()):
        if name.endswith((".yaml", ".yml")):
            # Helm splits a template's output at lines starting with ---, comment or not.
            documents += [doc for part in re.split(r"^---", text, flags=re.M) if (doc := yaml.safe_load(part))]
    return documents


@pytest.fixture(scope="module")
def prod_chart_documents() -> list[dict]:
    release = next(r for r in _rendered("prod").releases if r.name == CERT_MANAGER_RELEASE)
    return _chart_documents(release.values)


def test_the_controller_service_account_carries_the_role_its_trust_policy_names(prod_chart_documents):
    stack = load_stack(STACKS_DIR, "prod", "stacks")
    accounts = {doc["metadata"]["name"]: doc for doc in prod_chart_documents if doc["kind"] == "ServiceAccount"}
    [controller] = [doc for doc in prod_chart_documents
                    if doc["kind"] == "Deployment" and doc["metadata"]["labels"]["app.kubernetes.io/component"] == "controller"]
    name = controller["spec"]["template"]["spec"]["serviceAccountName"]
    assert name == CERT_MANAGER_SERVICE_ACCOUNT
    assert accounts[name]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (
        f"arn:aws:iam::{stack.settings.aws_account_id}:role/{cert_manager_role_name(stack)}"
    )


@pytest.mark.parametrize("stack_name", [s for s in FIXTURE_STACKS if s != "dev"])
def test_issuer_and_certificate_match_the_charts_crds(stack_name, prod_chart_documents, tmp_path):
    """validate_crds.py over the chart's own CRDs (rendered with crds.enabled, as installed)."""
    crds = [doc for doc in prod_chart_documents if doc["kind"] == "CustomResourceDefinition"]
    index = []
    for crd in crds:
        for version in crd["spec"]["versions"]:
            file = f"{crd['spec']['group']}_{crd['spec']['names']['kind']}_{version['name']}.json"
            (tmp_path / file).write_text(json.dumps(version["schema"]["openAPIV3Schema"]))
            index.append({"group": crd["spec"]["group"], "version": version["name"],
                          "kind": crd["spec"]["names"]["kind"], "file": file})
    assert {entry["kind"] for entry in index} >= {"ClusterIssuer", "Certificate"}
    (tmp_path / "INDEX.json").write_text(json.dumps({"crds": index}))
    objects = list(_cert_manager_objects(stack_name).values())
    result = subprocess.run(
        [sys.executable, str(_shared_or_skip(VALIDATE_CRDS)), "--crds", str(tmp_path), "-"],
        input=yaml.safe_dump_all(objects), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 2, unchecked 0, errors 0" in result.stdout


# --- cert-manager's Route 53 role -------------------------------------------------------------

def test_the_policy_allows_only_the_zone_and_the_challenge_records():
    stack = load_stack(STACKS_DIR, "prod", "stacks")
    deployment = _rendered("prod").deployment
    policy = cert_manager_dns_policy(stack, gateway_dns_names(deployment))
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    # route53.go @v1.21.1: changeRecord calls ChangeResourceRecordSets (:282), then GetChange (:305)
    # until INSYNC; getHostedZoneID returns hostedZoneID unchanged when set (:317-318), so
    # ListHostedZonesByName (:330) is never called; nothing lists record sets.
    assert actions == ["route53:ChangeResourceRecordSets", "route53:GetChange"]
    [change] = [s for s in policy["Statement"] if s["Action"] == ["route53:ChangeResourceRecordSets"]]
    assert change["Resource"] == ["arn:aws:route53:::hostedzone/Z0123456789PRODEXAMPLE"]
    assert change["Condition"]["ForAllValues:StringEquals"] == {
        # Present upserts, CleanUp deletes (route53.go:250-259); newTXTRecordSet writes TXT (:360-371).
        "route53:ChangeResourceRecordSetsActions": ["DELETE", "UPSERT"],
        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
        # The wildcard's challenge is under its base name: one record for both.
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_acme-challenge.models.example.com"],
    }


def test_challenge_record_names_are_normalised_as_route53_matches_them():
    assert acme_challenge_records(["Models.Example.com.", "*.models.example.com", "a.example.com"]) == [
        "_acme-challenge.a.example.com", "_acme-challenge.models.example.com",
    ]


@pytest.mark.parametrize(("stack_name", "expected"), [
    ("prod", "  Route 53: zone example.com (Z0123456789PRODEXAMPLE); alias A records models.example.com, "
             "*.models.example.com to the gateway's load balancer"),
    ("staging", "  Route 53: zone staging.example.com (Z0123456789STAGEXAMPLE); records kept elsewhere "
                "(manage_records: false)"),
])
def test_the_plan_shows_the_zone_and_the_records(stack_name, expected):
    from components.review.plan import format_plan

    lines = format_plan(_rendered(stack_name)).splitlines()
    assert expected in lines
    assert any("cert-manager (IRSA, ACME challenge records only)" in line for line in lines)


def test_the_plan_of_a_stack_without_dns_shows_no_zone():
    from components.review.plan import format_plan

    text = format_plan(_rendered("dev"))
    assert "Route 53" not in text and "cert-manager (IRSA" not in text
