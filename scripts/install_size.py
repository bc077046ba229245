"""Installed size of pixelwise's core vs its extras, measured on an existing environment (no downloads): the
dependency closure of each requirement set (from pyproject.toml, markers evaluated for this machine), then the
sum of the file sizes each installed distribution's RECORD lists (``stat`` where RECORD gives no size).

    python scripts/install_size.py            # core, each extra, dev
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def dist_size(dist: md.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        if file.size is not None:
            total += file.size
        else:
            path = Path(str(dist.locate_file(file)))
            total += path.stat().st_size if path.is_file() else 0
    return total


def closure(requirements: list[str], optional: dict[str, list[str]]) -> dict[str, md.Distribution]:
    found: dict[str, md.Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name == "pixelwise":  # a self-reference (dev = pixelwise[train,...])
            for e in req.extras:
                todo += [(Requirement(r), "") for r in optional[e]]
            continue
        for e in ["", *sorted(req.extras)]:
            if (name, e) in seen:
                continue
            seen.add((name, e))
            try:
                dist = md.distribution(req.name)
            except md.PackageNotFoundError:
                print(f"  (not installed: {req.name})", file=sys.stderr)
                break
            found[name] = dist
            todo += [(Requirement(r), e) for r in dist.requires or []]
    return found


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    core = closure(project["dependencies"], optional)
    core_size = sum(dist_size(d) for d in core.values())
    torch_size = sum(dist_size(d) for d in closure(["torch"], optional).values())
    print(f"core: {len(core)} distributions, {core_size / 2**20:.0f} MiB "
          f"({(core_size - torch_size) / 2**20:.0f} MiB beyond torch and what torch itself installs)")
    for extra in optional:
        deps = closure(project["dependencies"] + optional[extra], optional)
        size = sum(dist_size(d) for d in deps.values())
        print(f"core + [{extra}]: {len(deps)} distributions, {size / 2**20:.0f} MiB "
              f"(+{(size - core_size) / 2**20:.0f} MiB)")
    big = sorted(core.values(), key=dist_size, reverse=True)[:5]
    print("largest in core: " + ", ".join(f"{d.metadata['Name']} {dist_size(d) / 2**20:.0f} MiB" for d in big))
    print(f"python {sys.version.split()[0]} at {os.path.dirname(sys.executable)}")


if __name__ == "__main__":
    main()
