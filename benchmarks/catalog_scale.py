"""How validate and render scale with the catalog: 200 and 2,000 models in 50 teams.

Each command runs in a fresh process (so peak memory is its own), three times; the fastest wall
time is reported with the peak resident memory. Run with ``make benchmark``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic_catalog import REPO, write_synthetic_catalog  # noqa: E402

# Runs one CLI command in-process and prints its wall time and the process's peak RSS as JSON.
MEASURE = """
import contextlib, io, json, os, resource, sys, time
sys.argv = ["modelplane"] + sys.argv[1:]
from components.cli.main import main
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": code, "seconds": elapsed, "peak_mib": peak / 1024, "after_import_mib": baseline / 1024}))
"""


def measure(args: list[str], cwd: Path, repeats: int, expected_code: int = 0) -> dict:
    runs = []
    for _ in range(repeats):
        result = subprocess.run(
            [sys.executable, "-c", MEASURE, *args], cwd=cwd, capture_output=True, text=True,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin:/usr/local/bin"}, check=True,
        )
        runs.append(json.loads(result.stdout))
    if any(run["code"] != expected_code for run in runs):
        raise SystemExit(f"modelplane {' '.join(args)} failed")
    return {
        "seconds": min(run["seconds"] for run in runs),
        "peak_mib": max(run["peak_mib"] for run in runs),
        "after_import_mib": min(run["after_import_mib"] for run in runs),
    }


COMMANDS = {
    "validate (dev)": ["validate", "--stack", "dev"],
    "validate (all stacks)": ["validate"],
    "render (prod)": ["render", "--stack", "prod", "--out", "-"],
    # Against the committed catalog, with one model's scaling changed in the work tree.
    "diff (prod)": ["diff", "--stack", "prod", "--base", "HEAD"],
}
# `diff` exits 3 when it finds changes, which it must here.
EXPECTED_CODES = {"diff (prod)": 3}


def commit_catalog(root: Path) -> None:
    """Make ``root`` a git repository with the catalog committed, then change one model."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "-A")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "catalog")
    model = root / "models" / "team000" / "model-000.yaml"
    model.write_text(model.read_text().replace("max_replicas: 3", "max_replicas: 5"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="models in total")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="modelplane-bench-") as tmp:
        for size in args.sizes:
            root = Path(tmp) / str(size)
            write_synthetic_catalog(root, args.teams, size // args.teams)
            commit_catalog(root)
            results[size] = {
                name: measure(cmd, root, args.repeats, EXPECTED_CODES.get(name, 0)) for name, cmd in COMMANDS.items()
            }
    print(f"{'command':<28}" + "".join(f"{size:>10} models" for size in args.sizes) + "   growth")
    for name in COMMANDS:
        row = f"{name:<28}"
        for size in args.sizes:
            row += f"{results[size][name]['seconds']:>14.2f} s"
        first, last = args.sizes[0], args.sizes[-1]
        growth = results[last][name]["seconds"] / results[first][name]["seconds"]
        row += f"   x{growth:.1f} for x{last / first:.0f} models"
        print(row)
    for name in COMMANDS:
        row = f"{name + ' peak':<28}"
        for size in args.sizes:
            row += f"{results[size][name]['peak_mib']:>12.0f} MiB"
        print(row)
    print(f"(the interpreter with modelplane imported: {results[args.sizes[0]]['validate (dev)']['after_import_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
