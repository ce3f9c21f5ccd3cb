"""Print a project's dependencies (and the named extras') from pyproject.toml, one a line.

    python3 requirements_from_pyproject.py pyproject.toml tracking,sweeps > requirements.txt

The Docker build installs these before it copies the source, so a source edit reuses the
dependency layers; only a change of this list (not of pyproject.toml's other tables)
reinstalls them. Exits 2 naming an extra that pyproject.toml does not define.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(
            f"{pyproject}: no extra {', '.join(unknown)} in [project.optional-dependencies] "
            f"(known: {', '.join(sorted(optional))}); fix the EXTRAS build argument"
        )
    found = list(project.get("dependencies", []))
    for extra in extras:
        found += [req for req in optional[extra] if req not in found]
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    extras = [extra.strip() for extra in argv[1].split(",") if extra.strip()]
    try:
        print("\n".join(requirements(Path(argv[0]), extras)))
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
