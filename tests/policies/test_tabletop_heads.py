"""The ee_delta heads (squashed Gaussian, quantile bins), the state features, the policies on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from rlft.envs.text import text_space
from rlft.errors import ModalityError
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.interface import EnvInterface, detect_interface
from rlft.policies.tabletop_heads import (
    STEP_BUCKETS,
    SquashedGaussian,
    fit_quantile_bins,
    squashed_gaussian_log_prob,
    state_dim,
    state_features,
)


def _ee_spaces(state: bool = True) -> tuple[spaces.Dict, spaces.Box]:
    obs: dict[str, spaces.Space] = {
        "instruction": text_space(256),
        "last_action_error": text_space(256),
        "rgb": spaces.Box(0, 255, (32, 32, 3), np.uint8),
        "depth": spaces.Box(0.0, 2.5, (32, 32), np.float32),
    }
    if state:
        obs["step"] = spaces.Box(0, 160, (1,), np.int64)
        obs["ee_state"] = spaces.Box(-np.inf, np.inf, (5,), np.float32)
    return spaces.Dict(obs), spaces.Box(-1.0, 1.0, (5,), np.float32)


def _ee_obs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "instruction": "put the red block in the green bowl",
        "last_action_error": "",
        "rgb": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        "depth": rng.uniform(0.5, 1.5, (32, 32)).astype(np.float32),
        "step": np.array([seed], dtype=np.int64),
        "ee_state": rng.uniform(-1, 1, 5).astype(np.float32),
    }


def _policy(head: str, **extra: object) -> object:
    obs_space, act_space = _ee_spaces()
    config = PolicyConfig(backbone="tiny-clip", head=head, head_hidden=16, ee_bins=8, **extra)  # type: ignore[arg-type]
    return build_policy(config, obs_space, act_space, seed=0)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_squashed_gaussian_log_prob_matches_a_numerical_density() -> None:
    # The density of a = tanh(u), u ~ N(mu, s), is d/da P(A <= a) = d/da Phi((atanh(a) - mu) / s).
    mean = torch.tensor([[0.3, -1.2, 0.0, 2.0, -0.5]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5, 0.2, -1.5, 0.0, -2.0]], dtype=torch.float64)
    action = torch.tensor([[0.25, -0.9, 0.05, 0.97, -0.4]], dtype=torch.float64)
    ours = squashed_gaussian_log_prob(mean, log_std, action).item()
    h = 1e-6
    reference = 0.0
    for m, s, a in zip(mean[0].tolist(), log_std[0].exp().tolist(), action[0].tolist(), strict=True):
        cdf = _normal_cdf((math.atanh(a + h) - m) / s) - _normal_cdf((math.atanh(a - h) - m) / s)
        reference += math.log(cdf / (2 * h))
    assert ours == pytest.approx(reference, rel=1e-5)
    # Without the tanh Jacobian the value would be the Gaussian density of atanh(a), which differs.
    gaussian = torch.distributions.Normal(mean, log_std.exp()).log_prob(torch.atanh(action)).sum().item()
    assert abs(gaussian - reference) > 0.1


def test_squashed_gaussian_samples_stay_in_range_and_have_the_right_mode() -> None:
    params = torch.tensor([[5.0, -5.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    dist = SquashedGaussian.from_params(params)
    samples = dist.sample(torch.Generator().manual_seed(0))
    assert samples.shape == (1, 5) and bool((samples.abs() < 1).all())
    assert torch.allclose(dist.mode(), torch.tanh(params[:, :5]))
    assert dist.entropy() is None and dist.log_prob(samples).shape == (1,)
    assert dist.kl(dist).abs().max().item() == pytest.approx(0.0, abs=1e-6)
    # A temperature scales the pre-squash spread: same noise, twice as far from the mean.
    pre = torch.atanh(dist.sample(torch.Generator().manual_seed(0)).clamp(-0.999999, 0.999999))
    hot = torch.atanh(dist.sample(torch.Generator().manual_seed(0), 2.0).clamp(-0.999999, 0.999999))
    torch.testing.assert_close(
        (hot - params[:, :5])[:, 2:], 2 * (pre - params[:, :5])[:, 2:], atol=1e-3, rtol=1e-3
    )


def test_quantile_bins_round_trip_and_follow_the_data() -> None:
    rng = np.random.default_rng(0)
    actions = np.concatenate([rng.normal(0, 0.1, (900, 5)), np.ones((100, 5))]).clip(-1, 1)
    edges, centres = fit_quantile_bins(actions, 16)
    assert edges.shape == (5, 15) and centres.shape == (5, 16)
    # Dense data near 0 gets narrow bins: most boundaries lie within +-0.3.
    assert (np.abs(edges[0]) < 0.3).mean() > 0.8
    policy = _policy("ee_binned")
    policy.fit_actions(list(actions))  # type: ignore[attr-defined]
    obs = _ee_obs(0)
    for a in ([1.0, 1.0, 1.0, 1.0, 1.0], [0.02, -0.05, 0.0, 0.1, 1.0]):
        index = policy.action_to_index(obs, np.array(a))  # type: ignore[attr-defined]
        back = policy.index_to_action(obs, index)  # type: ignore[attr-defined]
        assert index.shape == (5,) and back.shape == (5,) and back.dtype == np.float32
        # A bin acts with its demonstrations' median: the saturated +1 comes back exactly.
        assert np.array_equal(policy.action_to_index(obs, back), index)  # type: ignore[attr-defined]
    assert policy.index_to_action(obs, policy.action_to_index(obs, np.ones(5)))[0] == 1.0  # type: ignore[attr-defined]


def test_state_features_encode_the_step_and_the_cup() -> None:
    rows = state_features(
        [{"step": np.array([3]), "ee_state": np.arange(5)}, {"step": [999]}], ("step", "ee_state")
    )
    assert rows.shape == (2, state_dim(("step", "ee_state"))) == (2, STEP_BUCKETS + 1 + 5)
    assert rows[0, 3] == 1.0 and rows[0, :STEP_BUCKETS].sum() == 1.0
    assert rows[1, STEP_BUCKETS - 1] == 1.0 and rows[1, STEP_BUCKETS] > rows[0, STEP_BUCKETS]
    assert list(rows[0, -5:]) == [0, 1, 2, 3, 4] and list(rows[1, -5:]) == [0] * 5


def test_interface_records_the_ee_action_mode_and_state_keys() -> None:
    obs_space, act_space = _ee_spaces()
    interface = detect_interface(obs_space, act_space)
    assert interface.action_mode == "ee_delta" and interface.state_keys == ("step", "ee_state")
    assert EnvInterface.from_dict(interface.to_dict()) == interface
    old = {k: v for k, v in interface.to_dict().items() if k not in ("action_dim", "state_keys")}
    assert EnvInterface.from_dict(old).action_mode == "pick_place"  # records from before: pick_place
    with pytest.raises(ModalityError, match="pick_place or Box"):
        detect_interface(obs_space, spaces.Box(-1, 1, (4,), np.float32))


@pytest.mark.parametrize("head", ["ee_gaussian", "ee_binned"])
def test_ee_policies_act_evaluate_and_expose_sb3_spaces(head: str) -> None:
    policy = _policy(head)
    observations = [_ee_obs(i) for i in range(3)]
    actions = policy.act_batch(observations, deterministic=False, generator=torch.Generator().manual_seed(0))  # type: ignore[attr-defined]
    assert all(a.shape == (5,) and a.dtype == np.float32 and np.all(np.abs(a) <= 1) for a in actions)
    log_prob, entropy, value = policy.evaluate_actions(observations, [np.ones(5, np.float32)] * 3)  # type: ignore[attr-defined]
    assert log_prob.shape == entropy.shape == value.shape == (3,)
    log_prob.mean().backward()
    assert any(p.grad is not None for p in policy.head.parameters())  # type: ignore[attr-defined]
    space = policy.sb3_action_space(1)  # type: ignore[attr-defined]
    if head == "ee_gaussian":
        assert isinstance(space, spaces.Box) and space.shape == (5,)
        assert policy.same_action(observations[0], np.zeros(5), np.full(5, 0.05))  # type: ignore[attr-defined]
        assert not policy.same_action(observations[0], np.zeros(5), np.full(5, 0.5))  # type: ignore[attr-defined]
    else:
        assert isinstance(space, spaces.MultiDiscrete) and list(space.nvec) == [8] * 5
    assert policy.sb3_observation_space(1)["state"].shape == (state_dim(("step", "ee_state")),)  # type: ignore[attr-defined]


def test_ee_heads_do_not_fit_pick_place_envs_and_the_reverse() -> None:
    obs_space, _ = _ee_spaces(state=False)
    with pytest.raises(ModalityError, match="ee_gaussian or ee_binned"):
        build_policy(
            PolicyConfig(backbone="tiny-clip", head="pick_place"), obs_space, spaces.Box(-1, 1, (5,))
        )
    with pytest.raises(ModalityError, match="use pick_place"):
        build_policy(PolicyConfig(backbone="tiny-clip", head="ee_binned"), obs_space, spaces.Box(-1, 1, (6,)))
    auto = build_policy(
        PolicyConfig(backbone="tiny-clip", head_hidden=16), obs_space, spaces.Box(-1, 1, (5,))
    )
    assert auto.head_kind == "ee_gaussian" and auto.config.head == "ee_gaussian"


def test_binned_policy_checkpoint_keeps_its_fitted_bins(tmp_path: object) -> None:
    from pathlib import Path

    from rlft.policies import load_policy

    policy = _policy("ee_binned")
    rng = np.random.default_rng(1)
    policy.fit_actions(list(rng.uniform(-0.2, 0.2, (200, 5))))  # type: ignore[attr-defined]
    folder = Path(str(tmp_path)) / "p"
    policy.save(folder)  # type: ignore[attr-defined]
    loaded = load_policy(folder)
    assert torch.equal(loaded.head.edges, policy.head.edges)  # type: ignore[attr-defined]
    assert bool(loaded.head.fitted)
