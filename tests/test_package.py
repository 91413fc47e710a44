"""Packaging and import-time conventions of the foundation."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import rlft
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rlft import cli, errors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "playwright", "pybullet", "stable_baselines3", "peft", "minari")
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_import_is_light_and_registers_ids() -> None:
    code = (
        "import json, sys, time; t = time.perf_counter(); import rlft; dt = time.perf_counter() - t;"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], 'ids': len(rlft.ENV_IDS),"
        "'seconds': dt}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    report = json.loads(out.stdout)
    assert report["heavy"] == [], f"import rlft pulled in {report['heavy']}"
    assert report["ids"] == len(rlft.ENV_IDS)


def test_env_ids_are_unique_and_described() -> None:
    from rlft.envs import describe_envs

    assert len(set(rlft.ENV_IDS)) == len(rlft.ENV_IDS)
    descriptions = describe_envs()
    assert list(descriptions) == list(rlft.ENV_IDS)
    assert all(descriptions.values())


def test_cli_lists_envs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(rlft.ENV_IDS)
    for env_id, line in zip(rlft.ENV_IDS, lines, strict=True):
        assert line.startswith(env_id)


def test_cli_help_runs_as_a_command() -> None:
    exe = Path(sys.executable).with_name("rlft")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "envs" in out.stdout


def test_typed_errors_say_how_to_fix() -> None:
    with pytest.raises(errors.ConfigError, match="Did you mean 'train'"):
        errors.check_choice("split", "trian", ["train", "test"])
    with pytest.raises(errors.ConfigError, match="integer >= 1"):
        errors.check_int("max_steps", 0)
    with pytest.raises(errors.ConfigError, match="finite number"):
        errors.check_float("penalty", float("nan"))
    err = errors.UnknownNameError(errors.unknown_name_message("site", "shp", ["shop", "qa"]))
    assert str(err) == "Unknown site 'shp'. Did you mean 'shop'? Known sites: qa, shop."
    assert isinstance(err, KeyError)


def test_text_space_charset_covers_real_text() -> None:
    from rlft.envs.text import clean_text, text_space

    space = text_space(64)
    for sample in ["Größe M — 29,99 €", "Ωmega café: naïve résumé", "price < $30 & 4.5★"]:
        assert space.contains(sample)
    cleaned = clean_text("ok\x00\x1b[31m red 🤖 end\r\n", 64)
    assert space.contains(cleaned)
    assert cleaned == "ok[31m red ? end\n"
    assert len(clean_text("x" * 100, 64)) == 64


NOT_SOURCE = {
    ".git",
    ".venv",
    ".pyroot",
    "build",
    "dist",
    "runs",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
}


def _not_source(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in NOT_SOURCE or n.endswith(".egg-info") or (Path(folder) / n).is_symlink()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once for the tests of this module."""
    # Build from a copy: setuptools keeps files in the tree's build/lib that a later wheel would ship.
    source = tmp_path_factory.mktemp("source") / "rlft"
    shutil.copytree(ROOT, source, ignore=_not_source, symlinks=True)
    wheel_dir = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(source)],
        check=True,
        timeout=600,
    )
    (built,) = wheel_dir.glob("rlft-*.whl")
    return built


@pytest.mark.integration
def test_wheel_holds_only_the_rlft_package(tmp_path: Path, wheel: Path) -> None:
    """Check the wheel's top level, install it (no deps) into a fresh venv and import it."""
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        names = zf.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"rlft"}
    assert "rlft/envs/registration.py" in names
    shipped = {
        f"{'/'.join(package.split('.'))}/{file.name}"
        for package, folder in _package_folders().items()
        for file in folder.glob("*.py")
    }
    assert {n for n in names if n.endswith(".py")} == shipped
    assert not any(n.startswith("rlft/tests/") or n.startswith("rlft/benchmarks/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The fresh venv sees this environment's dependencies but not its editable rlft.
    deps = Path(sysconfig.get_paths()["purelib"])
    (site / "deps.pth").write_text(str(deps) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import rlft, gymnasium; print(rlft.__file__, len(rlft.ENV_IDS))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert out[0].startswith(str(site)), out
    assert int(out[1]) == len(rlft.ENV_IDS)


# -- dependencies: a small core, the rest in extras --------------------------------------------------


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
    return extras


def _expand(requirements: Iterable[str], extras: dict[str, list[str]]) -> list[Requirement]:
    """The requirements, with self-references (``rlft[a,b]``) replaced by those extras' requirements."""
    out: list[Requirement] = []
    for text in requirements:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) != "rlft":
            out.append(requirement)
            continue
        for extra in sorted(requirement.extras):
            assert extra in extras, (
                f"{text!r} names the extra {extra!r}, which pyproject.toml does not define"
            )
            out.extend(_expand(extras[extra], extras))
    return out


def _closure(requirements: Iterable[Requirement]) -> set[str]:
    """Canonical names of ``requirements`` and, where installed here, of everything they pull in."""
    names: set[str] = set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        names.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras or {""}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return names


def test_extras_match_the_dependency_errors() -> None:
    """Every optional import that rlft.errors maps to an extra is installed by that extra, and by no core."""
    extras = _extras()
    assert {"web", "tabletop", "train", "ray", "all", "dev"} <= set(extras)
    in_all = {
        e for r in map(Requirement, extras["all"]) if canonicalize_name(r.name) == "rlft" for e in r.extras
    }
    assert in_all == set(extras) - {"all", "dev"}, "[all] must name every extra but dev"
    assert not any(
        canonicalize_name(Requirement(r).name) == "rlft" for r in PYPROJECT["project"]["dependencies"]
    )

    providers = importlib.metadata.packages_distributions()
    core = _closure(Requirement(r) for r in PYPROJECT["project"]["dependencies"])
    problems = []
    for module, extra in sorted(errors.EXTRAS.items()):
        dists = {canonicalize_name(d) for d in providers.get(module, [module])}
        if extra not in extras:
            problems.append(f"{module}: rlft.errors.EXTRAS names the extra {extra!r}, which pyproject lacks")
        elif not dists & _closure(_expand(extras[extra], extras)):
            problems.append(f"{module}: [{extra}] installs none of {sorted(dists)}")
        if dists & core:
            problems.append(f"{module}: the core installs {sorted(dists & core)}, so it is no extra's")
    assert not problems, "rlft.errors.EXTRAS and pyproject.toml disagree:\n  " + "\n  ".join(problems)


def test_a_missing_extra_names_it() -> None:
    assert errors.extra_hint("pybullet") == " Install it with: pip install 'rlft[tabletop]'."
    assert errors.extra_hint("torch.nn") == " Install it with: pip install 'rlft[train]'."
    assert errors.extra_hint("numpy") == ""
    with pytest.raises(errors.DependencyError, match=re.escape("pip install 'rlft[tabletop]'")) as caught:
        errors.require("pybullet.no_such_module", "the tabletop environments")
    assert "the tabletop environments needs it" in str(caught.value)
    with pytest.raises(errors.DependencyError, match=re.escape("pip install 'rlft[train]'")):
        errors.import_target("tqdm.no_such_module:Thing")


def _package_folders() -> dict[str, Path]:
    """Package name -> folder for every folder holding Python files under the package-dir mapping."""
    mapping: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = {"rlft": ROOT}
    for name, folder in mapping.items():
        if name == "rlft":
            continue
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            parts = path.parent.relative_to(base).parts
            if "__pycache__" not in parts:
                found[".".join((name, *parts))] = path.parent
    return found


def test_every_package_folder_ships() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    folders = _package_folders()
    missing = sorted(set(folders) - listed)
    assert not missing, (
        f"folders the wheel would not ship (add them to [tool.setuptools] packages): {missing}"
    )
    stale = sorted(listed - set(folders))
    assert not stale, f"[tool.setuptools] packages lists folders that do not exist: {stale}"
    no_init = sorted(
        str(folder.relative_to(ROOT)) for folder in folders.values() if not (folder / "__init__.py").exists()
    )
    assert not no_init, f"package folders without __init__.py: {no_init}"
    unmapped = sorted(
        p.parent.name for p in ROOT.glob("*/__init__.py") if f"rlft.{p.parent.name}" not in listed
    )
    assert not unmapped, f"top-level packages missing from [tool.setuptools.package-dir]: {unmapped}"


CORE_SCRIPT = textwrap.dedent(
    """
    import importlib.util, json, sys
    import gymnasium as gym
    import rlft
    from rlft.errors import DependencyError

    report = {"optional_installed": [m for m in ("torch", "pybullet", "playwright", "transformers")
                                     if importlib.util.find_spec(m) is not None]}
    env = gym.make("rlft/WebShop-v0")
    obs, info = env.reset(seed=0)
    command = obs["admissible_commands"][0]
    obs, reward, terminated, truncated, info = env.step(command)
    report["web"] = {"command": command, "error": obs["last_action_error"], "url": obs["url"]}
    env.close()

    def attempt(name, action):
        try:
            report[name] = {"result": action()}
        except Exception as exc:
            report[name] = {"raised": type(exc).__name__, "typed": isinstance(exc, DependencyError),
                            "message": str(exc)}

    def frame():
        env = gym.make("rlft/WebShop-v0", render_mode="rgb_array")
        env.reset(seed=0)
        image = env.render()
        env.close()
        return [list(image.shape), str(image.dtype)]

    def tabletop():
        gym.make("rlft/TabletopPutBlockInBowl-v0").reset(seed=0)

    def backbone():
        from rlft.policies import load_backbone
        load_backbone("tiny-bert")

    def policies():
        from rlft.policies import build_policy

    attempt("rgb_array", frame)
    attempt("tabletop", tabletop)
    attempt("backbone", backbone)
    attempt("policies", policies)
    print(json.dumps(report))
    """
)
OFFLINE_SIGNS = (
    "from versions: none",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
)
"""What pip prints when it cannot reach a package index (the core's dependencies come from one)."""


@pytest.mark.integration
def test_core_install_makes_and_steps_a_text_web_env(tmp_path: Path, wheel: Path) -> None:
    """A venv with only the core (gymnasium, numpy, pillow) makes, steps and renders a text web env;
    a tabletop env and the training stack raise DependencyError naming their extra."""
    venv = tmp_path / "core"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        if any(sign in output for sign in OFFLINE_SIGNS):
            pytest.skip(f"no package index reachable for the core's dependencies: {output.strip()[-300:]}")
        raise AssertionError(f"installing the core failed:\n{output}")
    run = subprocess.run(
        [python, "-c", CORE_SCRIPT], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert run.returncode == 0, f"the text web env does not run on the core alone:\n{run.stderr}"
    report = json.loads(run.stdout)
    assert report["optional_installed"] == [], "the core venv is not isolated from this environment"
    assert report["web"]["error"] == "", report["web"]
    assert report["web"]["url"], report["web"]

    problems = []
    shape = report["rgb_array"].get("result", [[]])[0]
    if len(shape) != 3 or shape[2] != 3:
        problems.append(f"render_mode='rgb_array' gives no RGB frame on the core: {report['rgb_array']}")
    for name, extra in (("tabletop", "tabletop"), ("policies", "train"), ("backbone", "train")):
        outcome = report[name]
        if not (outcome.get("typed") and f"rlft[{extra}]" in outcome.get("message", "")):
            problems.append(f"{name}: expected DependencyError naming rlft[{extra}], got {outcome}")
    if problems:
        pytest.fail("on the core alone:\n  " + "\n  ".join(problems), pytrace=False)
