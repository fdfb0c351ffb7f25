"""python -m compat_tests --target kwire|kafka|HOST:PORT [--both] [--clients ...] [--scenarios ...] [--out DIR]"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from compat_tests import runner
from compat_tests.clients import ADAPTERS
from compat_tests.scenarios import all_scenarios


def main(argv: list[str] | None = None) -> int:
    scenarios = all_scenarios()
    parser = argparse.ArgumentParser(prog="python -m compat_tests", description="kwire's compatibility suite")
    parser.add_argument("--target", default="kwire", help="kwire, kafka (the reference Apache Kafka) or HOST:PORT")
    parser.add_argument("--both", action="store_true", help="run against kwire and the reference Kafka and compare")
    parser.add_argument("--clients", nargs="+", default=list(ADAPTERS), choices=list(ADAPTERS))
    parser.add_argument("--scenarios", nargs="+", default=list(scenarios), choices=list(scenarios))
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "kwire-compat-results", help="directory for matrix.txt and matrix.json")
    args = parser.parse_args(argv)
    targets = ["kwire", "kafka"] if args.both else [args.target]
    report = runner.run(targets, [scenarios[name] for name in args.scenarios], args.clients)
    runner.write(report, args.out)
    print()
    print(report.matrix_text())
    failures = report.failures()
    print(f"{len(report.cells)} cells, {len(failures)} failing; results in {args.out}/matrix.txt and matrix.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
