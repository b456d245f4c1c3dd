"""cert-manager's Route 53 role on a real API surface: the calls its DNS-01 solver makes, in its
order, under the policy modelplane gives the role, against moto's Route 53 with IAM enforcement.

cert-manager is Go, so its calls are replayed with boto3 exactly as
pkg/issuer/acme/dns/route53/route53.go @v1.21.1 makes them: Present is changeRecord(UPSERT)
(:250-253), which sends ChangeResourceRecordSets with one TXT change built by newTXTRecordSet
(:269-282, :360-371: TTL 10, MultiValueAnswer, SetIdentifier = the quoted value) and then polls
GetChange with the returned change id until INSYNC (:301-313); CleanUp is the same with DELETE.
With hostedZoneID set nothing else is called (getHostedZoneID :316-318).

What moto can and cannot check:
- moto authorises Route 53 calls against Resource "*" (moto/core/responses.py call_action: no
  ``_determine_resource`` for route53), so a policy limited to one zone would refuse everything.
  The tests give it the resource AWS authorises (Service Authorization Reference, Amazon Route 53:
  ChangeResourceRecordSets on ``hostedzone/<id>``, GetChange on ``change/<id>``), the way
  test_storage_access.py gives HeadBucket AWS's action.
- moto checks the signature of a GET request as if its query string (or headers) were the body
  (moto/iam/access_control.py ``_create_aws_request``: ``data=self._body or self._data``), so every
  Route 53 GET (GetChange, ListHostedZonesByName) fails with SignatureDoesNotMatch. The tests
  sign GETs with their real, empty body; the signature is still checked.
- moto does not evaluate the ``ForAllValues:StringEquals`` condition (moto/iam/policy_conditions.py
  knows only StringEquals and ignores other operators), so it cannot refuse a non-TXT record. The
  last test checks the values cert-manager's request carries, normalised as Route 53 documents it
  ("Normalizing the Route 53 condition key values"), against the condition instead, and says so.
"""

from __future__ import annotations

import json
import re

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from components.catalog import load_stack
from components.render.iam import cert_manager_dns_policy
from tests.aws_calls import RecordedCalls

REGION = "us-east-1"
DOMAIN = "models.test.example.com"
# The names the gateway's certificate covers (a gRPC model adds the wildcard).
DNS_NAMES = [DOMAIN, f"*.{DOMAIN}"]
# What cert-manager asks Route 53 for: the DNS-01 record of both names, with the trailing dot.
CHALLENGE_FQDN = f"_acme-challenge.{DOMAIN}."
_ROUTE53_RESOURCE = re.compile(r"/\d{4}-\d{2}-\d{2}/(?P<kind>hostedzone|change)/(?P<id>[^/]+)")


@pytest.fixture
def aws_route53_resources(monkeypatch):
    """moto authorises Route 53 calls on the resource AWS does (see the module docstring)."""
    import moto.route53.responses

    def determine_resource(response) -> str:
        match = _ROUTE53_RESOURCE.search(response.path)
        return f"arn:aws:route53:::{match['kind']}/{match['id']}" if match else "*"

    monkeypatch.setattr(moto.route53.responses.Route53, "_determine_resource", determine_resource, raising=False)

    import moto.iam.access_control

    original = moto.iam.access_control.IAMRequestBase._create_aws_request

    def request_as_signed(request):
        if request._method != "GET":
            return original(request)
        data, request._data = request._data, {}
        try:
            return original(request)
        finally:
            request._data = data

    monkeypatch.setattr(moto.iam.access_control.IAMRequestBase, "_create_aws_request", request_as_signed)


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ROUTE_53", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)


def _policy(workspace, zone_id: str) -> dict:
    workspace.stack(
        gateway={"tls": {"credential_name": "models-tls", "cluster_issuer": "letsencrypt-dns"}},
        dns={"hosted_zone_id": zone_id, "zone": "test.example.com"},
    )
    return cert_manager_dns_policy(load_stack(workspace.stacks, "dev", "stacks"), DNS_NAMES)


def _zone(route53, name: str) -> str:
    return route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"].split("/")[-1]


def _as_cert_manager(iam, policy: dict):
    iam.create_user(UserName="cert-manager")
    iam.put_user_policy(UserName="cert-manager", PolicyName="dns01", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="cert-manager")["AccessKey"]
    return boto3.client(
        "route53", region_name=REGION,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )


def error_code(error: botocore.exceptions.ClientError) -> str:
    """The error's code; moto's Route 53 errors nest it where botocore's REST-XML parser does not look."""
    response = error.response
    return response["Error"].get("Code") or response.get("Errors", {}).get("Error", {}).get("Code", "")


def change_record(client, zone_id: str, action: str, fqdn: str, value: str, record_type: str = "TXT") -> None:
    """cert-manager's changeRecord (route53.go:261-314 @v1.21.1): one change, then GetChange."""
    value = f'"{value}"'
    response = client.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Comment": "Managed by cert-manager",
            "Changes": [{
                "Action": action,
                "ResourceRecordSet": {
                    "Name": fqdn, "Type": record_type, "TTL": 10, "MultiValueAnswer": True,
                    "SetIdentifier": value, "ResourceRecords": [{"Value": value}],
                },
            }],
        },
    )
    status = client.get_change(Id=response["ChangeInfo"]["Id"])["ChangeInfo"]["Status"]
    assert status == "INSYNC"


# Set-up calls before moto enforces IAM: two zones, a user, its policy, its key.
@set_initial_no_auth_action_count(5)
@mock_aws
def test_cert_manager_presents_and_cleans_up_its_challenge(workspace, aws_env, aws_route53_resources, monkeypatch):
    admin = boto3.client("route53", region_name=REGION)
    zone = _zone(admin, "test.example.com")
    other = _zone(admin, "example.org")
    as_cert_manager = _as_cert_manager(boto3.client("iam", region_name=REGION), _policy(workspace, zone))
    recorded = RecordedCalls(monkeypatch)

    change_record(as_cert_manager, zone, "UPSERT", CHALLENGE_FQDN, "token-1")
    change_record(as_cert_manager, zone, "DELETE", CHALLENGE_FQDN, "token-1")

    assert [name for name, _ in recorded.calls] == ["ChangeResourceRecordSets", "GetChange"] * 2
    # Another zone is refused, even for a challenge record.
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        change_record(as_cert_manager, other, "UPSERT", "_acme-challenge.example.org.", "token-2")
    assert error_code(caught.value) == "AccessDenied"
    # Listing zones (what cert-manager would do without hostedZoneID) is not granted either.
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        as_cert_manager.list_hosted_zones_by_name(DNSName="test.example.com")
    assert error_code(caught.value) == "AccessDenied"


def _normalised(name: str) -> str:
    """Route 53's normalised record name: lower case, no trailing dot, other characters as \\ooo."""
    name = name.lower().rstrip(".")
    return "".join(c if re.fullmatch(r"[a-z0-9_.-]", c) else f"\\{ord(c):03o}" for c in name)


def _condition_values(change_batch: dict) -> dict[str, set[str]]:
    """The values of Route 53's ChangeResourceRecordSets condition keys for ``change_batch``."""
    changes = change_batch["Changes"]
    return {
        "route53:ChangeResourceRecordSetsActions": {c["Action"] for c in changes},
        "route53:ChangeResourceRecordSetsRecordTypes": {c["ResourceRecordSet"]["Type"] for c in changes},
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": {
            _normalised(c["ResourceRecordSet"]["Name"]) for c in changes
        },
    }


@set_initial_no_auth_action_count(5)
@mock_aws
def test_the_condition_admits_cert_managers_txt_challenge_and_no_other_record(
    workspace, aws_env, aws_route53_resources, monkeypatch,
):
    """Not IAM's evaluation (moto ignores ForAllValues): the request values against the condition."""
    admin = boto3.client("route53", region_name=REGION)
    zone = _zone(admin, "test.example.com")
    _zone(admin, "example.org")
    policy = _policy(workspace, zone)
    as_cert_manager = _as_cert_manager(boto3.client("iam", region_name=REGION), policy)
    recorded = RecordedCalls(monkeypatch)
    change_record(as_cert_manager, zone, "UPSERT", CHALLENGE_FQDN, "token-1")
    # moto lets an A record through: the condition is the only guard, and moto does not apply it.
    change_record(as_cert_manager, zone, "UPSERT", f"{DOMAIN}.", "192.0.2.1", record_type="A")
    change_record(as_cert_manager, zone, "UPSERT", f"www.{DOMAIN}.", "token-3")

    [condition] = [s["Condition"]["ForAllValues:StringEquals"] for s in policy["Statement"] if "Condition" in s]

    def admitted(batch: dict) -> bool:
        return all(values <= set(condition[key]) for key, values in _condition_values(batch).items())

    batches = [params["ChangeBatch"] for name, params in recorded.calls if name == "ChangeResourceRecordSets"]
    assert [admitted(batch) for batch in batches] == [True, False, False]
