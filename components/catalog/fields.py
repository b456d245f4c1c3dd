"""Field types shared by the catalog's pydantic models."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

from components.catalog.problems import shown_text

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes label keys: an optional DNS-subdomain prefix and '/', then a name of 63 characters.
_LABEL_KEY_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# Kubernetes label values: 63 characters of alphanumerics, '-', '_' and '.', alphanumeric at the ends.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class StrictModel(BaseModel):
    """Base of every user-facing model: unknown fields are errors, types are not coerced, and a
    number is finite (``.inf`` and ``.nan`` are YAML floats no setting means)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{shown_text(value, 80)} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def check_label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"{shown_text(value, 80)} cannot be a Kubernetes label value: use at most 63 letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit"
        )
    return value


def check_label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _LABEL_KEY_PREFIX.fullmatch(prefix))) or len(name) > 63 or not _LABEL_KEY_NAME.fullmatch(name):
        raise ValueError(
            f"{shown_text(value, 80)} is not a Kubernetes label key; write [prefix/]name with letters, digits, "
            "'-', '_' and '.' (prefix: a DNS name)"
        )
    return value


# Upper bounds for lists a file may hold: far above any real catalog, low enough that a hostile
# file of a few hundred kilobytes cannot make a check run for seconds.
MAX_PEOPLE = 50  # owners, reviewers, admin roles of one team or stack
MAX_ITEMS = 200  # prefixes, buckets, environment variables, instance types, labels, CIDRs


def check_unique_items(values: list) -> list:
    # Counted in one pass: a list.count per item made a long list quadratic.
    counts = Counter(str(value) for value in values)
    repeated = sorted(value for value, count in counts.items() if count > 1)
    if repeated:
        raise ValueError(f"lists {', '.join(repeated)} more than once; keep one of each")
    return values


DNS_LABEL_PATTERN = _DNS_LABEL.pattern
UNIQUE_ITEMS = {"uniqueItems": True}

DnsLabel = Annotated[
    str,
    AfterValidator(check_dns_label),
    WithJsonSchema({"type": "string", "pattern": _DNS_LABEL.pattern, "maxLength": 63}),
]
LabelKey = Annotated[str, AfterValidator(check_label_key)]
LabelValue = Annotated[
    str,
    AfterValidator(check_label_value),
    WithJsonSchema({"type": "string", "pattern": _LABEL_VALUE.pattern, "maxLength": 63}),
]


_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$")


def check_hostname(value: str) -> str:
    if not _HOSTNAME.fullmatch(value):
        raise ValueError(f"{shown_text(value, 80)} is not a DNS name; write one like models.example.com")
    return value


Hostname = Annotated[str, AfterValidator(check_hostname)]


S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Characters that mean something to IAM inside a policy's Resource (``*``, ``?`` wildcards and
# ``${...}`` policy variables) or that no reviewer can see (whitespace, control characters).
_S3_KEY_REFUSED = re.compile(r"[*?${}\s\x00-\x1f\x7f]")


def s3_key_problem(key: str) -> str | None:
    """Why ``key`` (the part of an ``s3://`` URI after the bucket) can not name model artifacts.

    Team prefixes become IAM Resource ARNs, so a wildcard or a policy variable would widen the
    grant, and ``..`` or an empty segment would make two spellings of one place.
    """
    if _S3_KEY_REFUSED.search(key):
        return "holds *, ?, $, {, } or a space or control character; S3 paths here are plain text"
    segments = key.split("/")
    inner = segments[:-1] if key.endswith("/") else segments
    if any(segment in ("", ".", "..") for segment in inner):
        return "has an empty, '.' or '..' segment; write each folder once, as s3://bucket/folder/"
    return None


def check_s3_bucket(value: str) -> str:
    if not S3_BUCKET.match(value) or ".." in value:
        raise ValueError(f"{shown_text(value, 80)} is not an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')")
    return value


S3Bucket = Annotated[str, AfterValidator(check_s3_bucket)]
