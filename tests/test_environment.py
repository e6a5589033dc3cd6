"""The pinned environment: pyproject.toml is the single source; environment.yml must not drift."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest
import yaml

from helpers import paths

PYPROJECT = tomllib.loads((paths.project_root() / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
ENVIRONMENT = yaml.safe_load((paths.project_root() / "environment.yml").read_text(encoding="utf-8"))
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[0-9][0-9A-Za-z.]*)$")


def all_requirements() -> list[str]:
    extras = [req for group in PROJECT["optional-dependencies"].values() for req in group]
    return PROJECT["dependencies"] + extras


@pytest.mark.parametrize("requirement", all_requirements())
def test_every_dependency_is_pinned_exactly(requirement):
    assert PIN.match(requirement), f"{requirement!r} is not an exact '==' pin"


@pytest.mark.parametrize("requirement", all_requirements())
def test_installed_environment_matches_the_pins(requirement):
    match = PIN.match(requirement)
    assert match is not None
    assert version(match["name"]) == match["version"], (
        f"{match['name']} installed {version(match['name'])}, pinned {match['version']}: "
        "reinstall with `make clean test`"
    )


def test_environment_yml_python_matches_requires_python():
    conda_python = [
        d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python")
    ]
    assert conda_python == ["python=3.11"]
    assert PROJECT["requires-python"] == "==3.11.*"


def test_environment_yml_installs_the_project_with_every_extra():
    pip_sections = [d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1
    (install,) = pip_sections[0]
    extras = re.fullmatch(r'-e "\.\[(?P<extras>[a-z,]+)\]"', install)
    assert extras, f"environment.yml pip line should install the project editable, got {install!r}"
    assert set(extras["extras"].split(",")) == set(PROJECT["optional-dependencies"])


def test_environment_yml_adds_no_package_of_its_own():
    # Anything conda installed besides python/pip would be an unpinned second source of truth.
    conda_packages = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert sorted(conda_packages) == ["pip", "python=3.11"]
