"""Kubernetes resource quantities (``500m``, ``2``, ``4Gi``) as users write them in YAML."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Union

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from components.catalog.problems import shown_text

_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[a-zA-Z]*)$")

_DECIMAL_SUFFIXES = {"m": Decimal(1) / 1000, "": Decimal(1), "k": Decimal(10) ** 3,
                     "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
                     "P": Decimal(10) ** 15, "E": Decimal(10) ** 18}
_BINARY_SUFFIXES = {"Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
                    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60}
_SUFFIXES = {**_DECIMAL_SUFFIXES, **_BINARY_SUFFIXES}

_MEBIBYTE = Decimal(2) ** 20
# Far beyond any machine or cluster, and small enough that arithmetic on them stays exact: a
# number past these is a typo (or a hostile file), refused before it reaches any computation.
MAX_CPU_CORES = Decimal(10) ** 6
MAX_MEMORY_BYTES = Decimal(2) ** 60  # 1Ei


# What a CPU or memory amount may look like as text. The validator and the JSON Schema use these
# same patterns (ECMA-262 and Python agree on them; the validator matches the whole text).
CPU_PATTERN = r"^[0-9]+(?:\.[0-9]+)?m?$"
CPU_ZERO_PATTERN = r"^0+(?:\.0+)?m?$"
MEMORY_PATTERN = r"^[0-9]+(?:\.[0-9]+)?(?:[kMGTPE]|[KMGTPE]i)?$"
_CPU = re.compile(CPU_PATTERN)
_MEMORY = re.compile(MEMORY_PATTERN)


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity: ``"500m"`` -> 0.5, ``"2Gi"`` -> 2147483648."""
    match = _QUANTITY.match(text)
    if not match or match["suffix"] not in _SUFFIXES:
        raise ValueError(f"{shown_text(text)} is not a Kubernetes quantity")
    return Decimal(match["number"]) * _SUFFIXES[match["suffix"]]


def cpu_cores(text: str) -> Decimal:
    return parse_quantity(text)


def memory_bytes(text: str) -> Decimal:
    return parse_quantity(text)


def format_cpu(cores: Decimal) -> str:
    """Canonical CPU text: whole cores as ``"2"``, fractions in millicores (``"1500m"``)."""
    millicores = (cores * 1000).to_integral_value()
    if millicores % 1000 == 0:
        return str(int(millicores // 1000))
    return f"{int(millicores)}m"


def format_memory(size: Decimal) -> str:
    """Canonical memory text in the largest binary unit that divides it exactly."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY_SUFFIXES[suffix]
        if size % unit == 0:
            return f"{int(size // unit)}{suffix}"
    return str(int(size))


def describe_memory(size: Decimal) -> str:
    """Memory as a person reads it: ``14.5Gi`` rather than ``14848Mi`` (still a valid quantity)."""
    gibibytes = size / _BINARY_SUFFIXES["Gi"]
    if gibibytes >= 1 and (gibibytes * 100) % 1 == 0:
        return f"{gibibytes.normalize():f}Gi"
    return format_memory(size)


def _number_to_text(value: object) -> object:
    # YAML reads `cpu: 2` as an int and `cpu: 0.5` as a float; both are fine quantities.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(str(value)).normalize(), "f")
    return value


def _check_cpu(text: str) -> str:
    if not _CPU.fullmatch(text):
        raise ValueError(f"{shown_text(text)} is not a CPU amount; write cores (2, 0.5) or millicores (500m)")
    cores = parse_quantity(text)
    if cores <= 0:
        raise ValueError("CPU must be more than 0")
    if cores > MAX_CPU_CORES:
        raise ValueError(f"{shown_text(text)} is more than {MAX_CPU_CORES} cores, more than any cluster has; check the number")
    return text


def _check_memory(text: str) -> str:
    if not _MEMORY.fullmatch(text):
        raise ValueError(f"{shown_text(text)} is not a memory amount; write it with a unit, such as 512Mi or 4Gi")
    size = parse_quantity(text)
    if size < _MEBIBYTE:
        raise ValueError(
            f"{shown_text(text)} is less than 1Mi (a number without a unit means bytes); "
            "write it with a unit, such as 512Mi or 4Gi"
        )
    if size > MAX_MEMORY_BYTES:
        raise ValueError(f"{shown_text(text)} is more than 1Ei, more than any cluster has; check the number")
    return text


# Editors see what the YAML may hold: a number or a quantity string. A memory amount of less than
# 1Mi written with a unit ("512Ki") is the one rule only the validator knows.
CpuQuantity = Annotated[
    str,
    BeforeValidator(_number_to_text, json_schema_input_type=Union[str, int, float]),
    AfterValidator(_check_cpu),
    WithJsonSchema({"anyOf": [
        {"type": "string", "pattern": CPU_PATTERN, "not": {"pattern": CPU_ZERO_PATTERN}},
        {"type": "number", "exclusiveMinimum": 0},
    ]}),
]
MemoryQuantity = Annotated[
    str,
    BeforeValidator(_number_to_text, json_schema_input_type=Union[str, int, float]),
    AfterValidator(_check_memory),
    WithJsonSchema({"anyOf": [
        {"type": "string", "pattern": MEMORY_PATTERN},
        {"type": "number", "minimum": int(_MEBIBYTE)},
    ]}),
]
