"""The locked environment: pyproject.toml declares, requirements.lock pins everything, both agree.

pyproject.toml holds the direct dependencies (exact pins) and the ``bootstrap`` group (pip and
setuptools, which build and install the project); ``make lock`` resolves them into
requirements.lock with every transitive package and its hashes; ``make`` and environment.yml
install from the lock. These tests fail when one is edited without the other.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, version

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from helpers import paths

ROOT = paths.project_root()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
LOCK_FILE = ROOT / "requirements.lock"
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[0-9][0-9A-Za-z.]*)$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def direct_requirements() -> list[str]:
    """Every requirement pyproject.toml declares: dependencies, extras, the bootstrap group."""
    extras = [req for group in PROJECT["optional-dependencies"].values() for req in group]
    return PROJECT["dependencies"] + extras + PYPROJECT["dependency-groups"]["bootstrap"]


def parse_lock(text: str) -> list[tuple[Requirement, list[str]]]:
    """The lock's entries (``name==version ; marker``), each with its hash options."""
    entries: list[tuple[Requirement, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            assert entries, f"an option before the first requirement: {line!r}"
            entries[-1][1].extend(HASH.findall(stripped))
        else:
            entries.append((Requirement(stripped.removesuffix("\\").strip()), []))
    return entries


@cache
def lock() -> list[tuple[Requirement, list[str]]]:
    return parse_lock(LOCK_FILE.read_text(encoding="utf-8"))


def locked_here() -> dict[str, str]:
    """Name -> version of the lock entries that apply to this interpreter and platform."""
    pins: dict[str, str] = {}
    for requirement, _ in lock():
        if requirement.marker is None or requirement.marker.evaluate():
            name = canonicalize_name(requirement.name)
            assert name not in pins, f"{name} is locked twice for this platform"
            (pins[name],) = [spec.version for spec in requirement.specifier]
    return pins


def dependency_closure(roots: list[str]) -> set[str]:
    """Names of the roots and everything they require here, from the installed metadata."""
    wanted: dict[str, set[str]] = {}
    todo = [Requirement(root) for root in roots]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in wanted and requirement.extras <= wanted[name]:
            continue
        extras = wanted.setdefault(name, set())
        extras |= requirement.extras
        for declared in distribution(name).requires or []:
            needed = Requirement(declared)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in {"", *extras}
            ):
                todo.append(needed)
    return set(wanted)


def test_parse_lock_reads_entries_markers_and_hashes():
    text = (
        "# comment\n"
        "numpy==2.4.6 ; python_full_version < '3.12' \\\n"
        f"    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "    # via pandas\n"
        "pywinpty==3.1.2 ; os_name == 'nt' \\\n"
        f"    --hash=sha256:{'c' * 64}\n"
    )
    (numpy, numpy_hashes), (winpty, winpty_hashes) = parse_lock(text)
    assert (numpy.name, str(numpy.specifier)) == ("numpy", "==2.4.6")
    assert len(numpy_hashes) == 2 and len(winpty_hashes) == 1
    assert str(winpty.marker) == 'os_name == "nt"'


def test_dependency_closure_follows_requirements_and_extras():
    # jupyter-events needs jsonschema with its format extra, which brings rfc3987-syntax.
    closure = dependency_closure(["jupyter-events"])
    assert {"jupyter-events", "jsonschema", "rfc3987-syntax", "referencing"} <= closure
    assert "rfc3987-syntax" not in dependency_closure(["jsonschema"])
    with pytest.raises(PackageNotFoundError):
        dependency_closure(["a-package-that-is-not-installed"])


@pytest.mark.parametrize("requirement", direct_requirements())
def test_every_direct_dependency_is_pinned_exactly(requirement):
    assert PIN.match(requirement), f"{requirement!r} is not an exact '==' pin"


def test_every_lock_entry_is_an_exact_pin_with_hashes():
    assert lock(), "requirements.lock holds no package"
    for requirement, hashes in lock():
        assert [spec.operator for spec in requirement.specifier] == ["=="], requirement
        assert hashes, f"{requirement} has no --hash: pip's hash-checking mode would refuse it"


@pytest.mark.parametrize("requirement", direct_requirements())
def test_lock_pins_each_direct_dependency_at_its_declared_version(requirement):
    match = PIN.match(requirement)
    assert match is not None
    locked = locked_here().get(canonicalize_name(match["name"]))
    assert locked == match["version"], (
        f"pyproject.toml pins {requirement}, requirements.lock has {locked}: run `make lock`"
    )


def test_lock_holds_exactly_the_dependencies_of_the_declared_packages():
    """Nothing missing (pip would refuse the install), nothing left over from an old pin."""
    needed = dependency_closure(direct_requirements())
    locked = set(locked_here())
    assert not needed - locked, f"required but not locked (run `make lock`): {needed - locked}"
    assert not locked - needed, f"locked but required by nothing: {locked - needed}"


def test_installed_environment_is_the_lock():
    wrong = {
        name: (pinned, version(name))
        for name, pinned in locked_here().items()
        if version(name) != pinned
    }
    assert not wrong, f"installed differs from the lock (pinned, installed): {wrong}; `make clean`"


def test_locked_setuptools_can_build_the_project():
    (backend,) = PYPROJECT["build-system"]["requires"]
    requirement = Requirement(backend)
    assert requirement.name == "setuptools"
    assert SpecifierSet(str(requirement.specifier)).contains(locked_here()["setuptools"])


def test_environment_yml_python_matches_requires_python():
    conda_python = [
        d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python")
    ]
    assert conda_python == ["python=3.11"]
    assert PROJECT["requires-python"] == "==3.11.*"


def test_environment_yml_installs_the_lock():
    pip_sections = [d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [[f"-r {LOCK_FILE.name}"]]


def test_environment_yml_adds_no_package_of_its_own():
    # Anything conda installed besides python/pip would be an unpinned second source of truth.
    conda_packages = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert sorted(conda_packages) == ["pip", "python=3.11"]


def test_make_lab_starts_with_the_options_given_and_offers_the_project_kernel(tmp_path):
    """`make lab LAB_ARGS=...` as the current user (root in a container: --allow-root)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "test-token"
    log = tmp_path / "lab.log"
    lab = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "lab",
            f"LAB_ARGS=--no-browser --ip 127.0.0.1 --port {port} --IdentityProvider.token={token}",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make, jupyter and its children: one group to stop
    )
    url = f"http://127.0.0.1:{port}/api/kernelspecs?token={token}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert lab.poll() is None, log.read_text(encoding="utf-8")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    kernelspecs = json.load(response)["kernelspecs"]
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s"
                time.sleep(0.5)
        assert "cell-evidence" in kernelspecs
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=60)
