"""Packaging and import-time conventions of the foundation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import rlft
from rlft import cli, errors

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "playwright", "pybullet", "stable_baselines3", "peft", "minari")


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


@pytest.mark.integration
def test_wheel_holds_only_the_rlft_package(tmp_path: Path) -> None:
    """Build a wheel, check its top level, install it (no deps) into a fresh venv and import it."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheel_dir.glob("rlft-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        names = zf.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"rlft"}
    assert "rlft/envs/registration.py" in names
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
