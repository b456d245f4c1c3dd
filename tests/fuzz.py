"""`make fuzz`: the property of tests/test_fuzz_catalog.py for as long as it is given.

    python -m tests.fuzz --minutes 30

Runs batches of fresh random inputs until the time is up, then prints how many inputs ran and
what was found. A finding is printed by Hypothesis with its smallest failing input; exit 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests import test_fuzz_catalog

BATCH = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.minutes * 60
    counted = 0
    original = test_fuzz_catalog.check_mutation

    def counting(mutation):
        nonlocal counted
        counted += 1
        original(mutation)

    test_fuzz_catalog.check_mutation = counting
    batches = 0
    try:
        while time.monotonic() < deadline:
            test_fuzz_catalog.property_test(BATCH)()
            batches += 1
    except Exception as finding:  # the property failed: Hypothesis printed the smallest input
        print(f"fuzz: FINDING after {counted} inputs in {batches} batches: {type(finding).__name__}: {finding}")
        return 1
    print(f"fuzz: {counted} inputs (validate, render; diff for about half) in {args.minutes:g} minutes, no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
