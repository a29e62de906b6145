"""Agreement between `datahub contract lint` and datacontract-cli on which ODCS contracts are valid.

Usage: .venv/bin/python benchmarks/odcs_agreement.py [PATH ...] [--datacontract EXE]

PATH: contract files or directories searched for ``*.odcs.yaml`` (default: the standard's examples
under ``../shared/data/odcs/examples``, this project's ``contracts/`` and, when someone has put them
there, datacontract-cli's test files under ``../shared/data/datacontract-cli``).

datacontract-cli's verdict comes from running ``EXE lint --no-inline-references FILE`` (valid when it
exits 0). datacontract-cli pins dependencies this project does not share, so install it apart, e.g.
``python3 -m venv /tmp/dc && /tmp/dc/bin/pip install datacontract-cli`` and pass
``--datacontract /tmp/dc/bin/datacontract``. Without ``--datacontract`` the expected verdict is the one
a test file's location implies: invalid when a folder or the file name says ``invalid``, else valid.

Our verdict is ``lint_file`` (everything ``datahub contract lint`` checks); each disagreement is
printed with the first reason either side gives, and counted by what our first problem is about
(the ODCS schema, the platform's own custom properties, a quality rule...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datahub.contracts.lint import lint_file  # noqa: E402
from datahub.dictionary import load_dictionary  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_PATHS = [SHARED / "odcs" / "examples", ROOT / "contracts", SHARED / "datacontract-cli"]


def contract_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("*.odcs.yaml"))
        elif path.is_file():
            found.append(path)
    return found


def theirs(path: Path, exe: str | None) -> tuple[bool, str]:
    """datacontract-cli's verdict and its first reason (or the verdict the file's location implies)."""
    if exe is None:
        invalid = "invalid" in str(path).lower()
        return not invalid, "named invalid" if invalid else "named valid"
    done = subprocess.run(
        [exe, "lint", "--no-inline-references", str(path)], capture_output=True, text=True, timeout=300
    )
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    reason = next((line for line in lines if line.startswith("1)")), lines[-1] if lines else "")
    return done.returncode == 0, reason


def kind(reason: str) -> str:
    if reason.startswith(("ODCS schema", "ODCS version")):
        return "ODCS schema"
    if "custom property" in reason:
        return "custom property"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--datacontract", help="the datacontract-cli executable")
    args = parser.parse_args()
    files = contract_files(args.paths or DEFAULT_PATHS)
    dictionary = load_dictionary(ROOT / "dictionary")
    agree = 0
    differences: Counter[str] = Counter()
    for path in files:
        problems = lint_file(path, dictionary)
        ours = not problems
        valid, reason = theirs(path, args.datacontract)
        if ours == valid:
            agree += 1
            continue
        first = f"{problems[0].entry}: {problems[0].reason}" if problems else "clean"
        differences[f"ours {'valid' if ours else 'invalid: ' + kind(problems[0].reason)}"] += 1
        print(f"{path}\n  datahub: {first}\n  datacontract-cli: {'valid' if valid else reason}")
    print(f"\nagree on {agree} of {len(files)}")
    for what, count in differences.most_common():
        print(f"  {count:3d}  {what}")


if __name__ == "__main__":
    main()
