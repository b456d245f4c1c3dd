"""The stack's configuration as the Pulumi engine hands it to the program."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config

from components.catalog.stacks import Stack, named_stack, settings_from_engine_config


def engine_config() -> dict[str, Any]:
    """Every configuration key of the running stack (full keys such as ``modelplane:domain``).

    ``pulumi.Config`` can only look keys up one by one; enumerating them all lets an unknown
    ``modelplane:`` key be reported as an error instead of being ignored, exactly as
    ``modelplane validate`` reports it offline.
    """
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def stack_from_engine() -> Stack:
    """The running stack's validated settings; raises ``InputError`` like the offline loader."""
    name = pulumi.get_stack()
    source = f"stacks/Pulumi.{name}.yaml"
    config = {key: value if isinstance(value, str) else str(value) for key, value in engine_config().items()}
    return named_stack(name, source, settings_from_engine_config(config, source))
