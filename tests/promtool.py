"""promtool, the Prometheus tooling the monitoring tests run (Debian's `prometheus` package).

`.ci/run` installs it and sets MODELPLANE_REQUIRE_PROMTOOL=1: in CI the tests fail rather than
skip without it. On a developer machine without it, they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

PROMTOOL = shutil.which("promtool")
if PROMTOOL is None and os.environ.get("MODELPLANE_REQUIRE_PROMTOOL") == "1":
    raise RuntimeError("promtool is required here (MODELPLANE_REQUIRE_PROMTOOL=1) but not installed")

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=600)
