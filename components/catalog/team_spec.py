"""``models/<team>/team.yaml``: who owns a team's models, where they live and what they may use."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

from components.catalog.fields import MAX_ITEMS, MAX_PEOPLE, UNIQUE_ITEMS, DnsLabel, LabelValue, StrictModel, check_unique_items, s3_key_problem
from components.catalog.hardware import ALL_MIG_PROFILES
from components.catalog.problems import shown_text
from components.catalog.quantities import CpuQuantity, MemoryQuantity

_S3_PREFIX = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>[^*?]*)$")
# The three rules of check_s3_prefix (the shape, a folder in the bucket, the final '/') as one pattern.
S3_PREFIX_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^*?]*/$"
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]*$")
# A GitHub user (@name), team (@org/team) or e-mail address, as CODEOWNERS takes them.
# GitHub's name rules: a user or organisation is 1-39 letters, digits and single hyphens, not at
# either end; a team slug is letters, digits, '-', '_' and '.'. An e-mail address is plain ASCII.
# Nothing else reaches CODEOWNERS (a NUL, a backtick or a space would end the rule or the
# review's code span early).
_GITHUB_NAME = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
_CODE_OWNER = re.compile(
    rf"^(@{_GITHUB_NAME}(/[A-Za-z0-9][A-Za-z0-9._-]{{0,99}})?"
    r"|[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63})$"
)


def check_s3_prefix(value: str) -> str:
    match = _S3_PREFIX.fullmatch(value)
    if not match:
        raise ValueError(
            f"{shown_text(value, 80)} is not an S3 prefix; write s3://<bucket>/<prefix>/ (no wildcards)"
        )
    if not value.endswith("/"):
        raise ValueError(
            f"{shown_text(value, 80)} must end with '/', otherwise it also matches {value}-other/; "
            f"write {value}/"
        )
    if not match["key"]:
        raise ValueError(
            f"{shown_text(value, 80)} is a whole bucket; name the team's folder in it, such as "
            f"{value}models/"
        )
    problem = s3_key_problem(match["key"])
    if problem:
        raise ValueError(f"{shown_text(value, 80)} {problem}")
    return value


def check_owner_group(value: str) -> str:
    if value.startswith("system:"):
        raise ValueError(
            f"{shown_text(value, 80)} is a Kubernetes built-in group (system:authenticated would give every "
            "user access); name the team's own group"
        )
    if not _GROUP_NAME.fullmatch(value) or len(value) > 253:
        raise ValueError(f"{shown_text(value, 80)} is not a group name; use letters, digits and . _ @ : / -")
    return value


def check_mig_profile_name(value: str) -> str:
    if value not in ALL_MIG_PROFILES:
        known = ", ".join(sorted(ALL_MIG_PROFILES))
        raise ValueError(f"{shown_text(value, 80)} is not a MIG profile; known profiles: {known}")
    return value


def check_code_owner(value: str) -> str:
    if not _CODE_OWNER.fullmatch(value):
        raise ValueError(
            f"{shown_text(value, 80)} is not a GitHub owner; write @user, @org/team or an e-mail address"
        )
    return value


MIG_PROFILE_SCHEMA = {"type": "string", "enum": sorted(ALL_MIG_PROFILES)}
S3Prefix = Annotated[
    str, AfterValidator(check_s3_prefix), WithJsonSchema({"type": "string", "pattern": S3_PREFIX_PATTERN}),
]
CodeOwner = Annotated[
    str, AfterValidator(check_code_owner), WithJsonSchema({"type": "string", "pattern": _CODE_OWNER.pattern}),
]
OwnerGroup = Annotated[
    str,
    AfterValidator(check_owner_group),
    WithJsonSchema({
        "type": "string", "pattern": _GROUP_NAME.pattern, "maxLength": 253, "not": {"pattern": "^system:"},
    }),
]
MigProfileName = Annotated[str, AfterValidator(check_mig_profile_name), WithJsonSchema(MIG_PROFILE_SCHEMA)]
MigQuota = Annotated[
    dict[MigProfileName, Annotated[int, Field(ge=1, le=100_000)]],
    WithJsonSchema({
        "type": "object",
        "propertyNames": MIG_PROFILE_SCHEMA,
        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 100_000},
    }),
]


class TeamStorage(StrictModel):
    s3_prefixes: Annotated[list[S3Prefix], AfterValidator(check_unique_items)] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        json_schema_extra=UNIQUE_ITEMS,
        description="S3 prefixes (s3://bucket/prefix/) the team's model artifacts live under; "
        "the team's models may read these and nothing else.",
    )


class TeamQuota(StrictModel):
    cpu: CpuQuantity = Field(description="CPU the team's pods may request in total.")
    memory: MemoryQuantity = Field(description="Memory the team's pods may request in total.")
    gpu: int = Field(default=0, ge=0, le=100_000, description="Whole GPUs the team may request.")
    mig: MigQuota = Field(
        default_factory=dict, description="MIG slices the team may request, by profile."
    )
    gpu_shares: int = Field(
        default=0, ge=0, le=100_000,
        description="Shares of time-sliced GPUs (nvidia.com/gpu.shared) the team may request.",
    )


class TeamSpec(StrictModel):
    """A team: one namespace, its owners, its storage and its quota."""

    team: DnsLabel = Field(description="The team's name; equals its folder under models/.")
    namespace: DnsLabel | None = Field(
        default=None, description="Kubernetes namespace of the team; default team-<team>."
    )
    description: str | None = Field(default=None, description="What the team does.")
    owners: Annotated[list[OwnerGroup], AfterValidator(check_unique_items)] = Field(
        min_length=1,
        max_length=MAX_PEOPLE,
        json_schema_extra=UNIQUE_ITEMS,
        description="Kubernetes groups that may manage the team's InferenceServices and read "
        "their pods and logs.",
    )
    reviewers: Annotated[list[CodeOwner], AfterValidator(check_unique_items)] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        json_schema_extra=UNIQUE_ITEMS,
        description="GitHub users or teams who review changes to the team's folder (CODEOWNERS).",
    )
    cost_center: LabelValue = Field(description="Cost center charged for the team's models.")
    storage: TeamStorage
    quota: TeamQuota

    @property
    def namespace_name(self) -> str:
        return self.namespace or f"team-{self.team}"
