"""Turn pydantic's validation errors into :class:`Problem` lines a person can act on."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from components.catalog.problems import WHOLE_FILE, Problem


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], file: str, field_prefix: str = ""
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with a dotted field path under ``field_prefix``."""
    problems = []
    for detail in error.errors(include_url=False):
        location = tuple(part for part in detail["loc"] if part != "[key]")
        path = field_path(location, field_prefix)
        problems.append(Problem(file, path, _message(detail, model, location)))
    return problems


def field_path(location: Iterable[Any], prefix: str = "") -> str:
    """``("scaling", "min_replicas")`` -> ``scaling.min_replicas``; list indexes as ``[0]``."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or WHOLE_FILE


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {_number(value)}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _message(detail: dict, model: type[BaseModel], location: tuple) -> str:
    kind = detail["type"]
    context = detail.get("ctx") or {}
    value = detail.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, location[:-1])
        name = str(location[-1]) if location else ""
        hint = ""
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            hint = f" (did you mean {close[0]}?)"
        return f"unknown field{hint}; allowed here: {', '.join(allowed)}"
    if kind == "missing":
        description = _description_at(model, location)
        return "required field is missing" + (f": {description}" if description else "")
    if kind in ("string_type",):
        return f"expected text, got {describe_value(value)}; put the value in quotes"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe_value(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe_value(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of fields, got {describe_value(value)}"
    if kind in ("list_type",):
        return f"expected a list, got {describe_value(value)}"
    if kind == "literal_error":
        expected = context.get("expected", "")
        options = [option.strip(" '") for option in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{describe_value(value)} is not allowed{hint}; use one of: {', '.join(options)}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = context.get("ge", context.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"must be {word} {_number(bound)}, got {describe_value(value)}"
    if kind in ("less_than_equal", "less_than"):
        bound = context.get("le", context.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"must be {word} {_number(bound)}, got {describe_value(value)}"
    if kind == "string_too_long":
        return f"has more than {context.get('max_length')} characters; shorten it"
    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        return f"is far too large, got {describe_value(value)}; check the number"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {describe_value(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {describe_value(value)}"
    if kind == "too_short":
        return f"must list at least {context.get('min_length', 1)} item(s)"
    if kind == "too_long":
        return (
            f"has {context.get('actual_length')} items, more than the {context.get('max_length')} "
            "allowed; keep the ones in use"
        )
    if kind == "value_error":
        return str(detail["msg"]).removeprefix("Value error, ")
    return str(detail["msg"])


def _number(value: Any) -> str:
    """A number for a message; a whole number of thousands of digits is not echoed in full."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and abs(value) >= 10**_MAX_SHOWN_DIGITS:
        try:
            digits = str(abs(value))
        except ValueError:  # past CPython's int_max_str_digits (4,300) str() itself refuses
            return f"of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
        return f"{'-' if value < 0 else ''}{digits[:6]}... ({len(digits)} digits)"
    return str(value)


_MAX_SHOWN_DIGITS = 24


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that carries the structure."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(model: type[BaseModel], location: tuple) -> tuple[Any, Any]:
    """The (annotation, pydantic field) found by following ``location`` down from ``model``."""
    current: Any = model
    field = None
    for part in location:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None, None
            current = field.annotation
        elif origin is dict:
            current = typing.get_args(current)[1]
            field = None
        elif origin is list and isinstance(part, int):
            current = typing.get_args(current)[0]
            field = None
        else:
            return None, None
    return _unwrap(current), field


def _fields_at(model: type[BaseModel], location: tuple) -> list[str]:
    annotation, _ = _model_at(model, location)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(annotation.model_fields)
    return []


def _description_at(model: type[BaseModel], location: tuple) -> str | None:
    _, field = _model_at(model, location)
    return field.description if field is not None else None
