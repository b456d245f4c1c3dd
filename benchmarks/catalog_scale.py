"""How modelplane scales with the catalog: 200, 2,000 and (``--large``) 10,000 models.

Each command runs in a fresh process (so peak memory is its own), ``--repeats`` times; the fastest
wall time is reported with its CPU time (user + system, less sensitive to a loaded machine) and the
peak resident memory. Beside it, in the same run, the peers of ``benchmarks/peers.py`` (a Helm
chart, a Jinja2 script, the LibYAML floor) write the same InferenceServices and VirtualServices.
``--baseline DIR`` runs every command also with an older ``components/`` (e.g. ``git archive main
components | tar -x -C DIR``), alternating old and new, and prints the ratio. Run with ``make benchmark``.
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

PEERS_SCRIPT = Path(__file__).resolve().parent / "peers.py"
# Runs one CLI command in a fresh interpreter and prints, as JSON, its wall time and CPU time from
# before modelplane is imported (start-up is part of a command's cost, and lazy imports move it
# into main()) and the process's peak RSS. main() is called as the console script calls it.
MEASURE = """
import time
start = time.perf_counter()
import contextlib, json, os, resource, sys
sys.argv = ["modelplane"] + sys.argv[1:]
from components.cli.main import main
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# Output to /dev/null, as to a pipe: a buffer in memory would count in the peak.
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
    code = main()
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"code": code, "seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_mib": usage.ru_maxrss / 1024, "after_import_mib": after_import / 1024}))
"""


def _environment(code_root: Path) -> dict[str, str]:
    # Byte-code caches outside the trees, so neither is written to and both run from caches.
    return {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin:/usr/local/bin",
            "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "modelplane-bench-pycache")}


def _run(argv: list[str], cwd: Path, code_root: Path) -> dict:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_environment(code_root), check=True)
    return json.loads(result.stdout.splitlines()[-1])


def best(runs: list[dict]) -> dict:
    fastest = min(runs, key=lambda run: run["seconds"])
    return {"seconds": fastest["seconds"], "cpu_seconds": min(run["cpu_seconds"] for run in runs),
            "peak_mib": max(run["peak_mib"] for run in runs)}


def measure(args: list[str], cwd: Path, repeats: int, expected_code: int, roots: list[Path]) -> list[dict]:
    """The best of ``repeats`` runs for each code root, the roots alternating run by run."""
    runs: list[list[dict]] = [[] for _ in roots]
    for _ in range(repeats):
        for index, root in enumerate(roots):
            run = _run([sys.executable, "-c", MEASURE, *args], cwd, root)
            if run["code"] != expected_code:
                raise SystemExit(f"modelplane {' '.join(args)} exited {run['code']} with {root}")
            runs[index].append(run)
    return [best(found) for found in runs]


COMMANDS = {
    "validate (3 stacks)": ["validate"],
    "render --stack dev": ["render", "--stack", "dev", "--out", "-"],
    # Against the committed catalog, with 1% of the models' scaling changed in the work tree.
    "diff --stack prod": ["diff", "--stack", "prod", "--base", "HEAD"],
    "review (3 stacks)": ["review", "--base", "HEAD"],
    "cost --stack prod": ["cost", "--stack", "prod"],
}
# `diff` and `review` exit 3 when they find changes, which they must here.
EXPECTED_CODES = {"diff --stack prod": 3, "review (3 stacks)": 3}
PEERS = ("helm", "jinja2", "libyaml", "modelplane-two-kinds")


def commit_catalog(root: Path, changed_share: float = 0.01) -> None:
    """Make ``root`` a git repository with the catalog committed, then change the scaling of
    ``changed_share`` of the models (at least one)."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "-A")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "catalog")
    models = sorted((root / "models").glob("*/model-*.yaml"))
    for model in models[::max(1, round(1 / changed_share))] if models else []:
        model.write_text(model.read_text().replace("max_replicas: 3", "max_replicas: 5"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="models in total")
    parser.add_argument("--large", action="store_true",
                        help="also 10,000 models in 50 teams and in 500 teams (minutes on a loaded machine)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a directory holding an older components/ to compare with")
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    catalogs = [(size, args.teams) for size in args.sizes]
    if args.large:
        catalogs += [(10_000, 50), (10_000, 500)]
    roots = [REPO] + ([args.baseline.resolve()] if args.baseline else [])
    with tempfile.TemporaryDirectory(prefix="modelplane-bench-") as tmp:
        for size, teams in catalogs:
            root = Path(tmp) / f"{size}-{teams}"
            write_synthetic_catalog(root, teams, size // teams)
            commit_catalog(root)
            print(f"\n{size} models, {teams} teams")
            print(f"  {'command':<24}{'wall':>9}{'CPU':>9}{'peak':>10}" + (f"{'old wall':>11}{'old CPU':>9}{'old peak':>10}{'CPU ratio':>11}" if args.baseline else ""))
            for name in args.commands:
                results = measure(COMMANDS[name], root, args.repeats, EXPECTED_CODES.get(name, 0), roots)
                row = f"  {name:<24}" + "".join(f"{r['seconds']:>8.2f}s{r['cpu_seconds']:>8.2f}s{r['peak_mib']:>6.0f} MiB" for r in results)
                if args.baseline:
                    row += f"{results[0]['cpu_seconds'] / results[1]['cpu_seconds']:>10.2f}x"
                print(row, flush=True)
            for peer in () if args.no_peers else PEERS:
                result = best([_run([sys.executable, str(PEERS_SCRIPT), peer, str(root)], root, REPO) for _ in range(args.repeats)])
                print(f"  {'peer ' + peer:<24}{result['seconds']:>8.2f}s{result['cpu_seconds']:>8.2f}s{result['peak_mib']:>6.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
