"""Reading stack settings, offline from ``stacks/Pulumi.<stack>.yaml`` or from the Pulumi engine."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from components.catalog.problems import WHOLE_FILE, InputError, Problem
from components.catalog.stack_settings import StackSettings
from components.catalog.validation_messages import problems_from_validation_error
from components.catalog.yaml_files import read_yaml_file, symlink_problem

NAMESPACE = "modelplane"
# Settings that come from another provider's configuration namespace.
FOREIGN_KEYS = {"region": "aws:region"}
_STACK_FILE = re.compile(r"^Pulumi\.(?P<name>[A-Za-z0-9_.-]+)\.yaml$")
_EKS_CLUSTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,99}$")


@dataclass(frozen=True)
class Stack:
    """A named stack and its validated settings."""

    name: str
    source: str
    settings: StackSettings

    @property
    def cluster_name(self) -> str:
        return self.settings.cluster_name or f"modelplane-{self.name}"

    @property
    def is_prod(self) -> bool:
        return self.settings.environment == "prod"


def stack_file(stacks_dir: Path, name: str) -> Path:
    return stacks_dir / f"Pulumi.{name}.yaml"


def stack_names(stacks_dir: Path) -> list[str]:
    """Names of the stacks that have a settings file in ``stacks_dir``, sorted."""
    if not stacks_dir.is_dir():
        return []
    names = []
    for path in stacks_dir.iterdir():
        match = _STACK_FILE.match(path.name)
        if match and path.is_file():
            names.append(match["name"])
    return sorted(names)


def stray_stack_files(stacks_dir: Path, shown_dir: str) -> list[Problem]:
    """Files in ``stacks_dir`` that look like stack settings but are not named
    ``Pulumi.<stack>.yaml``: no command would read them (``Pulumi.prod.yml``, ``prod.yaml``), so a
    change to them would pass unreviewed while the stack it was meant for stays as it was."""
    if not stacks_dir.is_dir() or stacks_dir.is_symlink():
        return []
    problems = []
    for path in sorted(stacks_dir.iterdir()):
        if _STACK_FILE.match(path.name):
            continue
        if path.name.startswith("Pulumi.") or path.suffix.lower() in (".yaml", ".yml"):
            problems.append(Problem(
                f"{shown_dir}/{path.name}", WHOLE_FILE,
                "is not named Pulumi.<stack>.yaml, so no stack reads it; rename it (for example "
                "Pulumi.prod.yaml) or move it out of the stacks folder",
            ))
    return problems


def config_key(field: str) -> str:
    """The stack-file key of a settings field: ``node_pools`` -> ``modelplane:node_pools``."""
    return FOREIGN_KEYS.get(field, f"{NAMESPACE}:{field}")


def settings_from_config(config: Mapping[str, Any], source: str) -> StackSettings:
    """Validate a stack's configuration (full keys such as ``modelplane:domain``, typed values).

    Keys of other namespaces (``aws:``, ``kubernetes:``...) are left to their providers, except
    the few modelplane reads itself (``aws:region``).
    """
    fields: dict[str, Any] = {}
    key_problems = [problem for key in config if (problem := _misnamed_key_problem(key, source))]
    for key, value in config.items():
        if str(key).startswith(f"{NAMESPACE}:") or key in FOREIGN_KEYS.values():
            key_problems.extend(_secret_problems(value, str(key), source))
    if key_problems:
        raise InputError(key_problems)
    for key, value in config.items():
        if key.startswith(f"{NAMESPACE}:"):
            fields[key[len(NAMESPACE) + 1 :]] = value
    for field, key in FOREIGN_KEYS.items():
        if key in config:
            fields[field] = config[key]
    try:
        return StackSettings.model_validate(fields)
    except ValidationError as error:
        problems = problems_from_validation_error(error, StackSettings, source)
        raise InputError(_with_config_keys(problems)) from None


def _secret_problems(value: Any, path: str, source: str) -> list[Problem]:
    """Pulumi secrets (``{secure: <ciphertext>}``) among modelplane's settings.

    The offline commands read the stack file without the stack's key, so a secret would be
    validated, rendered and reviewed as the mapping ``{secure: ...}`` while ``pulumi up`` applied
    the decrypted value: what the review showed would not be what is deployed. Nothing modelplane
    reads is secret (secrets belong in a Kubernetes Secret the platform creates), so it is refused.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return [Problem(
                source, path,
                "is a Pulumi secret ({secure: ...}); modelplane settings are read offline by validate, "
                "render and review, which cannot decrypt it, so they must be plain values: keep "
                "secrets in a Kubernetes Secret and refer to it by name",
            )]
        return [p for key, item in value.items() for p in _secret_problems(item, f"{path}.{key}", source)]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _secret_problems(item, f"{path}[{index}]", source)]
    return []


def _misnamed_key_problem(key: Any, source: str) -> Problem | None:
    """A key modelplane would silently ignore although it was meant for modelplane.

    ``modelplane-gateway:`` for ``modelplane:gateway:`` validated and dropped the prod gateway's
    TLS; so a key without a namespace, or in a namespace that looks like ``modelplane`` without
    being it, is an error. Other namespaces (``aws:``, ``kubernetes:``...) belong to their providers.
    """
    text = str(key)
    namespace, colon, name = text.partition(":")
    if not colon:
        return Problem(source, text, f"configuration keys are <namespace>:<name>; write {NAMESPACE}:{text}")
    if namespace == NAMESPACE:
        return None
    normalised = re.sub(r"[^a-z0-9]", "", namespace.lower())
    if NAMESPACE in normalised or difflib.SequenceMatcher(None, normalised, NAMESPACE).ratio() >= 0.75:
        suggestion = f"{NAMESPACE}:{name}" if normalised == NAMESPACE else f"{NAMESPACE}:<setting>"
        return Problem(
            source, text,
            f"namespace {namespace!r} is not {NAMESPACE!r}, so nothing would read this key; write {suggestion}",
        )
    return None


def settings_from_engine_config(config: Mapping[str, str], source: str) -> StackSettings:
    """Like :func:`settings_from_config` for the engine's view, where every value is a string.

    The engine passes structured values as JSON text; plain strings stay strings (an account id
    such as "012345678901" must not become a number).
    """
    typed: dict[str, Any] = {}
    text_fields = _text_fields()
    for key, text in config.items():
        if key.split(":", 1)[-1] in text_fields:
            typed[key] = text
        else:
            try:
                typed[key] = json.loads(text)
            except (TypeError, ValueError):
                typed[key] = text
    return settings_from_config(typed, source)


def _text_fields() -> set[str]:
    """Settings whose values are text (left as the engine passes them, not parsed as JSON)."""
    fields = set()
    for field, schema in StackSettings.model_json_schema()["properties"].items():
        types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
        if "string" in types or "enum" in schema:
            fields.add(field)
    return fields


def _with_config_keys(problems: list[Problem]) -> list[Problem]:
    """Rewrite field paths (``node_pools.gpu``) into stack-file keys (``modelplane:node_pools.gpu``)."""
    rewritten = []
    for problem in problems:
        if problem.field == WHOLE_FILE:
            rewritten.append(problem)
            continue
        head, _, rest = problem.field.partition(".")
        base, bracket, index = head.partition("[")
        key = config_key(base) + (bracket + index if bracket else "")
        rewritten.append(Problem(problem.file, key + ("." + rest if rest else ""), problem.message))
    return rewritten


def load_stack(stacks_dir: Path, name: str, shown_dir: str | None = None) -> Stack:
    """Read and validate ``Pulumi.<name>.yaml`` in ``stacks_dir``; raise :class:`InputError`."""
    shown_dir = shown_dir if shown_dir is not None else str(stacks_dir)
    linked = symlink_problem(stacks_dir, shown_dir)
    if linked is not None:
        raise InputError([linked])
    path = stack_file(stacks_dir, name)
    shown = f"{shown_dir}/{path.name}"
    if not path.is_file() and not path.is_symlink():
        known = ", ".join(stack_names(stacks_dir)) or "none"
        raise InputError([
            Problem(shown, WHOLE_FILE, f"no such stack file; stacks in {shown_dir}/: {known}")
        ])
    data, problems = read_yaml_file(path, shown)
    if problems:
        raise InputError(problems)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise InputError([
            Problem(shown, "config", "a stack file holds a 'config:' mapping of modelplane: keys")
        ])
    return named_stack(name, shown, settings_from_config(data["config"], shown))


def named_stack(name: str, source: str, settings: StackSettings) -> Stack:
    """The stack called ``name``; raise when its (derived) cluster name is one EKS refuses."""
    stack = Stack(name=name, source=source, settings=settings)
    problems = tls_dns_problems(settings, source)
    if not _EKS_CLUSTER_NAME.match(stack.cluster_name):
        problems.append(Problem(
            source, config_key("cluster_name"),
            f"the stack name gives the cluster name {stack.cluster_name!r}, which EKS refuses "
            "(letters, digits and '-', starting with a letter, at most 100); set "
            f"{config_key('cluster_name')}",
        ))
    if problems:
        raise InputError(problems)
    return stack


def tls_dns_problems(settings: StackSettings, source: str) -> list[Problem]:
    """A ClusterIssuer modelplane cannot create, or a zone that does not hold the domain.

    A Certificate naming an issuer nobody creates stays pending and the gateway's HTTPS server
    has no secret: nothing fails, nothing serves. So the stack either gives the Route 53 zone
    (modelplane creates the issuer and its role) or keeps the secret issued itself.
    """
    problems = []
    tls, dns = settings.gateway.tls, settings.dns
    if tls is not None and tls.cluster_issuer and dns is None:
        problems.append(Problem(
            source, f"{config_key('gateway')}.tls.cluster_issuer",
            f"modelplane creates the ClusterIssuer {tls.cluster_issuer} (ACME DNS-01 through Route 53) "
            f"and needs the hosted zone of {settings.domain}: set {config_key('dns')}.hosted_zone_id "
            f"and {config_key('dns')}.zone, or remove cluster_issuer and keep the Secret "
            f"{tls.credential_name} in istio-ingress issued yourself",
        ))
    if dns is not None and settings.domain != dns.zone and not settings.domain.endswith(f".{dns.zone}"):
        problems.append(Problem(
            source, f"{config_key('dns')}.zone",
            f"{dns.zone} does not hold the domain {settings.domain}; name the hosted zone of "
            f"{settings.domain} (the domain itself or a parent domain of it)",
        ))
    return problems


def load_stacks(stacks_dir: Path, names: list[str] | None = None, shown_dir: str | None = None) -> list[Stack]:
    """Load several stacks, collecting the problems of all of them before raising."""
    stacks, problems = [], []
    for name in names if names is not None else stack_names(stacks_dir):
        try:
            stacks.append(load_stack(stacks_dir, name, shown_dir))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return stacks


__all__ = [
    "Stack",
    "config_key",
    "load_stack",
    "load_stacks",
    "settings_from_config",
    "settings_from_engine_config",
    "stack_file",
    "stack_names",
    "stray_stack_files",
]
