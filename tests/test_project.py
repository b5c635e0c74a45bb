"""The project's own files agree with each other."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].strip().lower()


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [
        s for extra in project["optional-dependencies"].values() for s in extra
    ]
    return {requirement_name(s): s.replace(" ", "") for s in specs}


def conda_requirements() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    lines = text.split("dependencies:", 1)[1].splitlines()
    specs = [line.strip()[2:] for line in lines if re.match(r"^  - [a-z][^:]*$", line)]
    specs = [s for s in specs if requirement_name(s) not in ("python", "pip")]
    named = {CONDA_NAMES.get(requirement_name(s), requirement_name(s)): s for s in specs}
    return {name: name + s[len(requirement_name(s)) :] for name, s in named.items()}


def test_environment_yml_names_the_same_packages_and_bounds_as_pyproject():
    assert conda_requirements() == pyproject_requirements()


def commands(lines: list[str]) -> list[str]:
    """The shell commands of some lines, without comments and blank lines."""
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README has no 'Two commands' block"
    readme_commands = commands(block.group(1).splitlines())
    ci_commands = commands((ROOT / ".ci" / "run").read_text().splitlines()[1:])
    test_command = next(c for c in readme_commands if c.startswith("make test"))
    assert test_command in ci_commands
    assert ci_commands.index("make setup") < ci_commands.index(test_command)
