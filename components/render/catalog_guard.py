"""The catalog guard: a ValidatingAdmissionPolicy that keeps the catalog's InferenceServices (and
whatever else the teams' owners may write) as the reviewed catalog made them.

Team owners may create, change and delete InferenceServices in their namespace (their Role), and
RBAC cannot scope a verb by label. The policy refuses every CREATE, UPDATE and DELETE of an object
labelled ``app.kubernetes.io/managed-by: modelplane`` in a team namespace unless the request comes
from the stack's deployer (``modelplane:deployer_role_arns``, as EKS access entries name them) or
from a controller that must write it. Owners keep their own, unlabelled InferenceServices; they
cannot label one as the catalog's, nor strip the label from one of the catalog's (the object
selector matches the old object as well as the new).

Status updates are left alone: a rule for ``inferenceservices`` does not cover the ``status``
subresource (admissionregistration/v1 ``NamedRuleWithOperations.resources``: "'*' means all
resources, but not subresources"; "'pods/log' means the log subresource").
"""

from __future__ import annotations

import json

from components.catalog.deployed import StackDeployment
from components.platform_names import (
    KSERVE_NAMESPACE,
    KUBE_SYSTEM_NAMESPACE,
    MANAGED_BY_LABELS,
    TEAM_LABEL,
)
from components.render.objects import KubeObject, metadata
from components.render.team_objects import owner_writable_rules

CATALOG_GUARD = "modelplane-catalog-guard"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
GUARDED_OPERATIONS = ("CREATE", "UPDATE", "DELETE")

# KServe's controller adds and removes its finalizer with a merge patch of the InferenceService
# itself, not its status (pkg/controller/v1beta1/inferenceservice/controller.go:186-209 @v0.20.0);
# it runs as ServiceAccount kserve-controller-manager (charts/kserve-resources
# files/kserve/resources.yaml:527) in the namespace modelplane installs KServe into.
KSERVE_CONTROLLER = f"system:serviceaccount:{KSERVE_NAMESPACE}:kserve-controller-manager"
# kube-controller-manager runs each controller with its own ServiceAccount
# (--use-service-account-credentials): the namespace controller deletes what a deleted namespace
# (a removed team) holds; the garbage collector removes the foregroundDeletion/orphan finalizers
# (an UPDATE) when an object is deleted with a propagation policy, as Pulumi's delete does.
NAMESPACE_CONTROLLER = f"system:serviceaccount:{KUBE_SYSTEM_NAMESPACE}:namespace-controller"
GARBAGE_COLLECTOR = f"system:serviceaccount:{KUBE_SYSTEM_NAMESPACE}:generic-garbage-collector"
CONTROLLER_USERNAMES = (GARBAGE_COLLECTOR, NAMESPACE_CONTROLLER, KSERVE_CONTROLLER)


def kubernetes_username(principal_arn: str) -> tuple[str, str]:
    """How an EKS access entry names ``principal_arn`` in Kubernetes, when it sets no username:
    ``("exact", <user ARN>)`` for an IAM user, ``("prefix", "arn:<partition>:sts::<account>:
    assumed-role/<role name>/")`` for a role (the role's path dropped, the session name appended;
    EKS API reference, CreateAccessEntry, and the user guide's table of default usernames)."""
    arn, partition, _iam, _region, account, resource = principal_arn.split(":", 5)
    kind, _, name = resource.partition("/")
    if kind == "user":
        return "exact", principal_arn
    role_name = name.rsplit("/", 1)[-1]
    return "prefix", f"{arn}:{partition}:sts::{account}:assumed-role/{role_name}/"


def _cel_list(values: list[str]) -> str:
    # JSON string literals are CEL string literals (double quotes, backslash escapes).
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def deployer_expression(deployer_arns: list[str]) -> str:
    """CEL: whether the request's user is one of the deployers."""
    exact = sorted({value for kind, value in map(kubernetes_username, deployer_arns) if kind == "exact"})
    prefixes = sorted({value for kind, value in map(kubernetes_username, deployer_arns) if kind == "prefix"})
    terms = []
    if exact:
        terms.append(f"request.userInfo.username in {_cel_list(exact)}")
    if prefixes:
        terms.append(f"{_cel_list(prefixes)}.exists(p, request.userInfo.username.startsWith(p))")
    return " || ".join(terms)


CONTROLLER_EXPRESSION = f"request.userInfo.username in {_cel_list(list(CONTROLLER_USERNAMES))}"
# A dry run persists nothing; admitting it lets `pulumi preview` (server-side apply dry runs, under
# the preview role of a pull request) show a catalog change instead of failing on the guard.
ALLOWED_EXPRESSION = "variables.deployer || variables.controller || (has(request.dryRun) && request.dryRun)"
DENIAL_MESSAGE_EXPRESSION = (
    "request.kind.kind + ' ' + request.namespace + '/' + request.name + ' belongs to the modelplane "
    "catalog: ' + request.operation + ' by ' + request.userInfo.username + ' is refused; change the "
    "model in models/<team>/ through a pull request (InferenceServices without the label "
    "app.kubernetes.io/managed-by=modelplane are yours to manage)'"
)


def render_catalog_guard(deployment: StackDeployment) -> list[KubeObject]:
    """The policy and its binding (cluster-scoped; Kubernetes >= 1.30, admissionregistration/v1)."""
    deployers = list(deployment.stack.settings.deployer_role_arns)
    rules = [
        {
            "apiGroups": list(rule["apiGroups"]),
            "apiVersions": ["*"],
            "resources": list(rule["resources"]),
            "operations": list(GUARDED_OPERATIONS),
        }
        for rule in owner_writable_rules()
    ]
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(CATALOG_GUARD),
        "spec": {
            # A policy the API server cannot evaluate refuses the request: a catalog object is
            # never changed unguarded.
            "failurePolicy": "Fail",
            "matchConstraints": {
                "namespaceSelector": {"matchExpressions": [{"key": TEAM_LABEL, "operator": "Exists"}]},
                "objectSelector": {"matchLabels": {MANAGED_BY_LABEL: MANAGED_BY_LABELS[MANAGED_BY_LABEL]}},
                "resourceRules": rules,
            },
            "variables": [
                {"name": "deployer", "expression": deployer_expression(deployers)},
                {"name": "controller", "expression": CONTROLLER_EXPRESSION},
            ],
            "validations": [{
                "expression": ALLOWED_EXPRESSION,
                "messageExpression": DENIAL_MESSAGE_EXPRESSION,
                "reason": "Forbidden",
            }],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": metadata(CATALOG_GUARD),
        "spec": {"policyName": CATALOG_GUARD, "validationActions": ["Deny"]},
    }
    return [policy, binding]
