"""recipe/recipe.yaml, environment.yml and pyproject.toml say the same thing.

pyproject.toml is the source: its dependencies, bounds, Python floor, version and console scripts.
The conda recipe and the development environment repeat them with conda-forge names
(recipe/conda-forge-names.toml); these tests fail on the first one that drifts, and the last group
proves the comparison itself catches each kind of drift.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent

# The packages a maintainer's environment carries beyond pyproject.toml: the build tools.
BUILD_TOOLS = {"conda-build", "rattler-build"}
# The Pythons a noarch package may meet, for deciding whether a marker can ever be true on Linux.
PYTHONS = [f"3.{minor}" for minor in range(10, 16)]


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return _toml(ROOT / "pyproject.toml")


@pytest.fixture(scope="module")
def recipe() -> dict[str, Any]:
    return _yaml(ROOT / "recipe" / "recipe.yaml")


@pytest.fixture(scope="module")
def environment() -> dict[str, Any]:
    return _yaml(ROOT / "environment.yml")


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    return _toml(ROOT / "recipe" / "conda-forge-names.toml")["names"]


# --- the comparison -----------------------------------------------------------------------------


def conda_name(pypi_name: str, names: dict[str, str]) -> str:
    name = canonicalize_name(pypi_name)
    return names.get(name, name)


def conda_spec(specifier: SpecifierSet | str) -> frozenset[str]:
    """A PEP 440 specifier as the set of conda clauses it means: ">=1.2,<2" -> {">=1.2", "<2"}.

    ``~=1.2`` is ``>=1.2`` plus ``1.*``, and ``==1.*`` is ``1.*`` (conda's ``==1.*`` is exact).
    """
    clauses = set()
    for spec in SpecifierSet(str(specifier)):
        if spec.operator == "~=":
            release = spec.version.split(".")
            clauses |= {f">={spec.version}", ".".join(release[:-1]) + ".*"}
        elif spec.operator == "==" and spec.version.endswith(".*"):
            clauses.add(spec.version)
        else:
            clauses.add(f"{spec.operator}{spec.version}")
    return frozenset(clauses)


def parse_conda(entry: str) -> tuple[str, frozenset[str]]:
    """A conda MatchSpec as written in the recipe: "typer >=0.12" -> ("typer", {">=0.12"})."""
    name, _, spec = entry.strip().partition(" ")
    spec = re.sub(r"\s+", "", spec)
    return name, frozenset(c for c in spec.split(",") if c)


def _can_hold_on_linux(marker: Marker | None) -> bool:
    """Whether a dependency applies on Linux for some supported Python.

    A noarch package is built once for every Python, so a python-version marker cannot be
    expressed: such dependencies are carried unconditionally. Platform markers that never hold on
    Linux (pywin32; sys_platform == "win32") are left out.
    """
    if marker is None:
        return True
    linux = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": ""}
    return any(marker.evaluate({**linux, "python_version": py, "python_full_version": f"{py}.0"}) for py in PYTHONS)


def expected_run(pyproject: dict[str, Any], names: dict[str, str]) -> dict[str, frozenset[str]]:
    expected = {"python": conda_spec(pyproject["project"]["requires-python"])}
    for raw in pyproject["project"]["dependencies"]:
        req = Requirement(raw)
        if _can_hold_on_linux(req.marker):
            expected[conda_name(req.name, names)] = conda_spec(req.specifier)
    return expected


def specs_of(entries: list[Any]) -> dict[str, frozenset[str]]:
    out = {}
    for entry in entries:
        if not isinstance(entry, str):  # an `if:` block: the recipe must not need one
            raise AssertionError(f"conditional requirement {entry!r}: a noarch recipe has no place for it")
        name, spec = parse_conda(entry)
        out[name] = spec
    return out


def diff(what: str, expected: dict[str, frozenset[str]], actual: dict[str, frozenset[str]]) -> list[str]:
    """Every difference between two name -> bounds maps, one readable line each."""

    def show(spec: frozenset[str]) -> str:
        return ",".join(sorted(spec)) or "(any version)"

    problems = [f"{what}: missing {name} {show(expected[name])}" for name in sorted(expected.keys() - actual.keys())]
    problems += [f"{what}: {name} is not in pyproject.toml" for name in sorted(actual.keys() - expected.keys())]
    problems += [
        f"{what}: {name} is {show(actual[name])}, pyproject.toml says {show(expected[name])}"
        for name in sorted(expected.keys() & actual.keys())
        if expected[name] != actual[name]
    ]
    return problems


def recipe_problems(pyproject: dict[str, Any], recipe: dict[str, Any], names: dict[str, str]) -> list[str]:
    """Everything in recipe.yaml that disagrees with pyproject.toml."""
    problems = diff("recipe run", expected_run(pyproject, names), specs_of(recipe["requirements"]["run"]))

    host = specs_of(recipe["requirements"]["host"])
    python_floor = conda_spec(pyproject["project"]["requires-python"])
    if host.get("python") != python_floor:
        problems.append(f"recipe host: python must be {','.join(sorted(python_floor))}, like requires-python")
    for raw in pyproject["build-system"]["requires"]:
        req = Requirement(raw)
        name = conda_name(req.name, names)
        if host.get(name) != conda_spec(req.specifier):
            problems.append(f"recipe host: {name} must be {','.join(sorted(conda_spec(req.specifier)))} (build-system)")

    scripts = [f"{name} = {target}" for name, target in sorted(pyproject["project"].get("scripts", {}).items())]
    entry_points = sorted((recipe.get("build", {}).get("python") or {}).get("entry_points") or [])
    if [re.sub(r"\s+", " ", e) for e in entry_points] != scripts:
        problems.append(f"recipe entry_points {entry_points} are not pyproject.toml's scripts {scripts}")

    about, project = recipe.get("about", {}), pyproject["project"]
    for key, field in (("license", "license"), ("summary", "description")):
        if about.get(key) != project.get(field):
            problems.append(
                f"recipe about.{key} is {about.get(key)!r}, pyproject.toml's {field} is {project.get(field)!r}"
            )

    constraints = specs_of(recipe["requirements"].get("run_constraints", []))
    if conda_name("torch", names) not in constraints:
        problems.append("recipe run_constraints: pytorch must be constrained (and not required)")
    if any(Requirement(r).name == "torch" for r in pyproject["project"]["dependencies"]):
        problems.append("pyproject.toml: torch must not be a dependency; the doctor runs without it")
    return problems


def environment_problems(
    pyproject: dict[str, Any], recipe: dict[str, Any], environment: dict[str, Any], names: dict[str, str]
) -> list[str]:
    """Everything in environment.yml that disagrees with pyproject.toml or the recipe."""
    problems = []
    if environment.get("channels") != ["conda-forge", "nodefaults"]:
        problems.append(f"environment.yml channels are {environment.get('channels')}, not conda-forge only")
    actual = specs_of([d for d in environment["dependencies"] if isinstance(d, str)])

    expected = expected_run(pyproject, names)
    for raw in pyproject["project"].get("optional-dependencies", {}).get("dev", []):
        req = Requirement(raw)
        expected[conda_name(req.name, names)] = conda_spec(req.specifier)
    for raw in pyproject["build-system"]["requires"]:
        req = Requirement(raw)
        expected[conda_name(req.name, names)] = conda_spec(req.specifier)
    expected["pip"] = frozenset()
    torch = conda_name("torch", names)
    constraint = specs_of(recipe["requirements"].get("run_constraints", [])).get(torch)
    if constraint is not None:
        expected[torch] = constraint
    for tool in BUILD_TOOLS:
        if tool in actual:
            expected[tool] = actual[tool]
        else:
            problems.append(f"environment.yml: missing {tool} (maintainers build the recipe with it)")
    return problems + diff("environment.yml", expected, actual)


# --- the real files agree -----------------------------------------------------------------------


def test_recipe_matches_pyproject(pyproject, recipe, names) -> None:
    assert recipe_problems(pyproject, recipe, names) == []


def test_environment_matches_pyproject_and_recipe(pyproject, recipe, environment, names) -> None:
    assert environment_problems(pyproject, recipe, environment, names) == []


def test_recipe_reads_its_version_from_pyproject(pyproject, recipe) -> None:
    text = (ROOT / "recipe" / "recipe.yaml").read_text(encoding="utf-8")
    assert recipe["package"]["version"] == "${{ version }}"
    assert 'load_from_file("../pyproject.toml").project.version' in recipe["context"]["version"]
    version = pyproject["project"]["version"]
    assert not re.search(rf"(?<![\w.]){re.escape(version)}(?![\w.])", text), f"{version} is typed into recipe.yaml"


def test_recipe_is_noarch_python_built_from_this_checkout(recipe) -> None:
    assert recipe["schema_version"] == 1
    assert recipe["build"]["noarch"] == "python"
    assert recipe["source"] == {"path": "../"}


def test_recipe_tests_imports_cli_doctor_and_pip_check(recipe) -> None:
    python_tests = [t["python"] for t in recipe["tests"] if "python" in t]
    scripts = "\n".join(line for t in recipe["tests"] if "script" in t for line in t["script"])
    assert python_tests and "torchrig" in python_tests[0]["imports"]
    assert python_tests[0].get("pip_check", True) is True
    assert "torchrig --version" in scripts
    assert "torchrig doctor --quick --json" in scripts


def test_name_table_keys_are_normalised(names) -> None:
    assert all(key == canonicalize_name(key) for key in names), "keys of conda-forge-names.toml must be PEP 503 names"


# --- the comparison catches drift ---------------------------------------------------------------


def _first_dependency(pyproject) -> Requirement:
    return Requirement(pyproject["project"]["dependencies"][0])


def test_a_dependency_missing_from_the_recipe_is_caught(pyproject, recipe, names) -> None:
    drifted = copy.deepcopy(recipe)
    dep = _first_dependency(pyproject)
    drifted["requirements"]["run"] = [r for r in drifted["requirements"]["run"] if not r.startswith(f"{dep.name} ")]
    assert f"recipe run: missing {conda_name(dep.name, names)}" in "\n".join(recipe_problems(pyproject, drifted, names))


def test_a_new_pyproject_dependency_is_caught_under_its_conda_forge_name(pyproject, recipe, names) -> None:
    grown = copy.deepcopy(pyproject)
    grown["project"]["dependencies"].append("Example.Dist_Name>=1.2")
    problems = recipe_problems(grown, recipe, {**names, "example-dist-name": "example.dist-name"})
    assert "recipe run: missing example.dist-name >=1.2" in problems


def test_a_changed_bound_is_caught(pyproject, recipe, names) -> None:
    drifted = copy.deepcopy(recipe)
    dep = _first_dependency(pyproject)
    name = conda_name(dep.name, names)
    drifted["requirements"]["run"] = [
        f"{name} >=0.0.1" if r.split()[0] == name else r for r in drifted["requirements"]["run"]
    ]
    assert any(p.startswith(f"recipe run: {name} is >=0.0.1") for p in recipe_problems(pyproject, drifted, names))


def test_a_pypi_name_in_the_recipe_is_caught(pyproject, recipe, names) -> None:
    grown = copy.deepcopy(pyproject)
    grown["project"]["dependencies"].append("typing-extensions>=4")
    drifted = copy.deepcopy(recipe)
    drifted["requirements"]["run"].append("typing-extensions >=4")
    problems = recipe_problems(grown, drifted, names)
    assert "recipe run: missing typing_extensions >=4" in problems
    assert "recipe run: typing-extensions is not in pyproject.toml" in problems


def test_python_floor_and_entry_points_are_checked(pyproject, recipe, names) -> None:
    drifted = copy.deepcopy(recipe)
    drifted["requirements"]["host"] = [
        "python >=3.9" if r.startswith("python ") else r for r in drifted["requirements"]["host"]
    ]
    drifted["build"]["python"]["entry_points"] = ["torchrig = torchrig.old:main"]
    problems = "\n".join(recipe_problems(pyproject, drifted, names))
    assert "recipe host: python must be >=3.10" in problems
    assert "recipe entry_points" in problems


def test_about_drift_is_caught(pyproject, recipe, names) -> None:
    drifted = copy.deepcopy(recipe)
    drifted["about"]["license"] = "MIT"
    assert "recipe about.license is 'MIT', pyproject.toml's license is 'Apache-2.0'" in recipe_problems(
        pyproject, drifted, names
    )


def test_pytorch_as_a_dependency_is_caught(pyproject, recipe, names) -> None:
    drifted = copy.deepcopy(recipe)
    drifted["requirements"]["run_constraints"] = []
    drifted["requirements"]["run"].append("pytorch >=2.0")
    problems = recipe_problems(pyproject, drifted, names)
    assert "recipe run: pytorch is not in pyproject.toml" in problems
    assert "recipe run_constraints: pytorch must be constrained (and not required)" in problems


def test_environment_drift_is_caught(pyproject, recipe, environment, names) -> None:
    drifted = copy.deepcopy(environment)
    drifted["channels"] = ["defaults"]
    drifted["dependencies"] = [
        d for d in drifted["dependencies"] if not str(d).startswith(("pytest-timeout", "rattler-build"))
    ]
    problems = environment_problems(pyproject, recipe, drifted, names)
    assert "environment.yml channels are ['defaults'], not conda-forge only" in problems
    assert "environment.yml: missing pytest-timeout >=2.3" in problems
    assert "environment.yml: missing rattler-build (maintainers build the recipe with it)" in problems


@pytest.mark.parametrize(
    ("pep440", "conda"),
    [
        (">=0.12", {">=0.12"}),
        ("~=0.1", {">=0.1", "0.*"}),
        ("==1.*", {"1.*"}),
        (">=1.2,<2,!=1.5", {">=1.2", "<2", "!=1.5"}),
    ],
)
def test_pep440_bounds_in_conda_terms(pep440: str, conda: set[str]) -> None:
    assert conda_spec(pep440) == conda


def test_markers_follow_what_a_noarch_package_can_say() -> None:
    assert _can_hold_on_linux(Requirement("tomli>=2; python_version < '3.11'").marker)
    assert not _can_hold_on_linux(Requirement("pywin32; sys_platform == 'win32'").marker)


# --- the offline build downloads what pyproject.toml lists ----------------------------------------


def _offline_requirements(pyproject_path: Path) -> list[str]:
    """What recipe/build-offline.sh would download, asked of the script itself."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "recipe" / "offline" / "pipeline.py"), "requirements", str(pyproject_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


def test_offline_build_downloads_pyprojects_dependencies(pyproject) -> None:
    reqs = [Requirement(r) for r in _offline_requirements(ROOT / "pyproject.toml")]
    downloaded = {canonicalize_name(r.name): r.specifier for r in reqs}
    for raw in [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]:
        req = Requirement(raw)
        assert downloaded[canonicalize_name(req.name)] == req.specifier
    assert "pip" in downloaded


def test_offline_build_carries_version_markers_and_drops_other_platforms(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\n'
        '[project]\nname = "x"\nversion = "1"\n'
        "dependencies = [\"tomli>=2; python_version < '3.11'\",\n"
        '                "pywin32>=300; sys_platform == \'win32\'", "rich>=13"]\n',
        encoding="utf-8",
    )
    assert _offline_requirements(tmp_path / "pyproject.toml") == ["tomli>=2", "rich>=13", "setuptools>=77", "pip"]


def test_offline_build_stops_when_listing_the_requirements_fails(tmp_path: Path) -> None:
    """`wheels` in build-offline.sh must fail on the requirements step, not go on to download a partial list."""
    script = (ROOT / "recipe" / "build-offline.sh").read_text()
    wheels = re.search(r"^wheels\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert wheels is not None
    pip_calls = tmp_path / "pip-calls"
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    # stands in for the tool venv's python: pipeline.py prints half a list and fails; pip records its call
    python.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"if sys.argv[1:3] == ['-m', 'pip']:\n    open({str(pip_calls)!r}, 'a').write(' '.join(sys.argv) + '\\n')\n"
        "else:\n    print('packaging>=24')\n    sys.exit('pipeline.py: pyproject.toml has no [project] table')\n"
    )
    python.chmod(0o755)
    proc = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{wheels.group(0)}\nwheels", "bash"],
        env={**os.environ, "W": str(tmp_path), "PIPELINE": "pipeline.py", "ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "has no [project] table" in proc.stderr
    assert not pip_calls.exists()
