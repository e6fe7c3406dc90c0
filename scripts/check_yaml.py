"""Every YAML file of the repository parses (pre-commit hook and scripts/lint.sh).

python scripts/check_yaml.py            # all tracked *.yml / *.yaml files
python scripts/check_yaml.py a.yml ...  # only these
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def yaml_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "*.yml", "*.yaml"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        return [ROOT / f for f in out]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        return sorted(p for p in ROOT.rglob("*.y*ml") if ".venv" not in p.parts and "_build" not in p.parts)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or yaml_files()
    bad = 0
    for path in paths:
        try:
            list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as exc:
            print(f"{path}: {exc}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
