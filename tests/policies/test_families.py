"""One policy class per environment family, seeded heads, devices and precision, token caps."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rlft.errors import CheckpointError, ConfigError, ModalityError
from rlft.policies import (
    POLICY_FAMILIES,
    AgentPolicy,
    EnvInterface,
    PolicyConfig,
    TabletopPolicy,
    WebPolicy,
    autocast,
    build_policy,
    load_policy,
    policy_class,
    resolve_device,
    resolve_precision,
)

from .conftest import tabletop_obs, web_obs

COMMANDS = ("click[1]", "click[3]", "search[red cotton shirt]", "back")
ROOT = Path(__file__).resolve().parents[2]


def _heads_equal(a: AgentPolicy, b: AgentPolicy) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.head.state_dict().values(), b.head.state_dict().values(), strict=True)
    )


def test_each_family_gets_its_own_policy_class(web_spaces, tabletop_spaces, tmp_path: Path) -> None:
    web = build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces)
    table = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), *tabletop_spaces)
    assert type(web) is WebPolicy and type(table) is TabletopPolicy
    assert set(POLICY_FAMILIES) == {"web", "tabletop"}
    assert policy_class("web") is WebPolicy and policy_class("tabletop") is TabletopPolicy
    with pytest.raises(ModalityError, match="Unknown environment family 'robot'"):
        policy_class("robot")
    # The family owns the SB3 action space and the masks.
    assert web.sb3_action_space(5).n == 5 and web.supports_action_masks
    assert web.sb3_action_masks(web_obs(COMMANDS[:2]), 5).tolist() == [True, True, False, False, False]
    assert web.unselectable_actions(web_obs(COMMANDS), 3) == 1
    assert table.sb3_action_space(5).nvec.tolist() == [64, 3, 64, 3] and not table.supports_action_masks
    assert table.sb3_action_masks(tabletop_obs(), 5).all()
    # A family class is only built for its own family.
    with pytest.raises(ModalityError, match="serves web environments, not tabletop"):
        WebPolicy(table.config, table.interface, table.backbone, table.head, table.head_kind)
    # from_pretrained / save_pretrained, checked against the family of the class it is called on.
    web.save_pretrained(tmp_path / "web")
    assert type(AgentPolicy.from_pretrained(tmp_path / "web")) is WebPolicy
    assert type(WebPolicy.from_pretrained(tmp_path / "web")) is WebPolicy
    with pytest.raises(CheckpointError, match="not a TabletopPolicy"):
        TabletopPolicy.from_pretrained(tmp_path / "web")


def test_no_family_branches_outside_the_dispatch() -> None:
    """The family is looked at in one place (POLICY_FAMILIES), not in `kind ==` branches."""
    branch = re.compile(r"""kind\s*[!=]=\s*["'](web|tabletop)["']""")
    offenders = [
        f"{path.parent.name}/{path.name}:{number}"
        for folder in (ROOT / "policies", ROOT / "agents")
        for path in sorted(folder.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert offenders == []


def test_the_seed_alone_sets_the_initial_head(web_spaces, tabletop_spaces) -> None:
    """Same seed: bit-identical heads; another seed: different heads; the global RNG is untouched."""
    config = PolicyConfig(backbone="tiny-bert")
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a = build_policy(config, *web_spaces, seed=1)
    torch.rand(7)  # the caller's RNG use must not matter
    b = build_policy(config, *web_spaces, seed=1)
    c = build_policy(config, *web_spaces, seed=2)
    assert a.config.seed == 1 and c.config.seed == 2  # recorded, so checkpoints rebuild the same policy
    assert _heads_equal(a, b) and not _heads_equal(a, c)
    torch.manual_seed(5)
    assert torch.equal(state, torch.get_rng_state())
    b2 = build_policy(config, *web_spaces, seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # building did not consume the global RNG
    assert _heads_equal(a, b2)
    table = PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3)
    t1, t2 = build_policy(table, *tabletop_spaces, seed=3), build_policy(table, *tabletop_spaces, seed=4)
    assert not _heads_equal(t1, t2)
    assert _heads_equal(t1, build_policy(PolicyConfig(**{**table.to_dict(), "seed": 3}), *tabletop_spaces))


def test_resolve_device_on_this_machine() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="use one of auto"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="GPU"):
        resolve_device("cuda:99")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no GPU"):
            resolve_device("cuda")


def test_precision_checks_the_device() -> None:
    assert resolve_precision("fp32", "cpu") == torch.float32
    assert resolve_precision("bf16", "cpu") == torch.bfloat16
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="Did you mean 'fp16'"):
        resolve_precision("fp61", "cpu")
    with pytest.raises(ConfigError):
        autocast("cpu", "fp16")


@pytest.mark.parametrize("family", ["web", "tabletop"])
def test_autocast_runs_the_policy_in_bf16_with_float32_parameters(
    family: str, web_spaces, tabletop_spaces
) -> None:
    if family == "web":
        policy = build_policy(PolicyConfig(backbone="tiny-bert", max_obs_tokens=32), *web_spaces)
        batch, actions = [web_obs(COMMANDS), web_obs(COMMANDS[:2])], [COMMANDS[2], COMMANDS[1]]
        layer = policy.head.scorer[0]
    else:
        policy = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), *tabletop_spaces)
        batch = [tabletop_obs(0), tabletop_obs(1)]
        actions = [np.zeros(6, np.float32), np.full(6, 0.5, np.float32)]
        layer = policy.head.proj[0]
    dtypes: list[torch.dtype] = []
    layer.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    with autocast("cpu", "bf16"):
        log_prob, entropy, value = policy.evaluate_actions(batch, actions)
    assert dtypes == [torch.bfloat16]  # the head's layers ran in bfloat16
    assert log_prob.dtype == torch.float32
    assert all(torch.isfinite(t).all() for t in (log_prob, entropy, value))
    assert all(p.dtype == torch.float32 for p in policy.parameters())
    (-log_prob.mean()).backward()  # gradients reach the float32 head
    assert any(p.grad is not None for p in policy.head.parameters())
    with autocast("cpu", "fp32"):
        policy.evaluate_actions(batch, actions)
    assert dtypes[-1] == torch.float32


def test_build_and_load_place_the_policy_on_the_device(web_spaces, tmp_path: Path) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces, device="auto")
    assert policy.device.type == resolve_device("auto").type
    policy.save(tmp_path)
    assert load_policy(tmp_path, device="auto").device.type == resolve_device("auto").type
    assert load_policy(tmp_path, device="cpu").device == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no GPU"):
            build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces, device="cuda")
        with pytest.raises(ConfigError, match="no GPU"):
            load_policy(tmp_path, device="cuda:0")


def test_token_budgets_are_capped_at_the_models_positions(web_spaces) -> None:
    """tiny-bert / tiny-gpt2 embed 512 positions; longer budgets would crash in the forward pass."""
    long_page = dict(web_obs(COMMANDS), page="click search item " * 400)
    bert = build_policy(PolicyConfig(backbone="tiny-bert", max_obs_tokens=2000), *web_spaces)
    assert bert.encoder.obs_len == 512
    assert bert.act(long_page) in COMMANDS
    gpt = build_policy(
        PolicyConfig(backbone="tiny-gpt2", max_obs_tokens=2000, max_command_tokens=16), *web_spaces
    )
    assert gpt.encoder.obs_len == 512 - 16  # prompt and command share the positions
    assert gpt.act(long_page) in COMMANDS
    short = build_policy(PolicyConfig(backbone="tiny-bert", max_obs_tokens=64), *web_spaces)
    assert short.encoder.obs_len == 64


def test_a_missing_train_extra_is_a_dependency_error() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch': raise ImportError(name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import rlft.policies as p\n"
        "from rlft.errors import DependencyError\n"
        "for name in ('build_policy', 'AgentPolicy'):\n"
        "    try:\n"
        "        getattr(p, name)\n"
        "    except DependencyError as exc:\n"
        "        print(name, 'train' in str(exc))\n"
        "try:\n"
        "    p.resolve_device('auto')\n"
        "except DependencyError as exc:\n"
        "    print('resolve_device', 'train' in str(exc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["build_policy", "True", "AgentPolicy", "True", "resolve_device", "True"]


def test_interface_kind_is_checked_against_the_families() -> None:
    with pytest.raises(CheckpointError, match="environment kind"):
        EnvInterface.from_dict({"kind": "robot"})
    assert np.asarray(EnvInterface("web").to_dict()["kind"]) == "web"
