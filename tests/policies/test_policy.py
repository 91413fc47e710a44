"""AgentPolicy: heads, fine-tuning modes, action mapping, modality checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from rlft.errors import ConfigError, ModalityError
from rlft.policies import PolicyConfig, build_policy, load_backbone
from rlft.policies.heads import NEG_INF

from .conftest import tabletop_obs, web_obs

COMMANDS = ("click[1]", "click[3]", "search[red cotton shirt]", "back")


def test_config_json_round_trip_and_validation() -> None:
    config = PolicyConfig(backbone="tiny-gpt2", finetune="lora", lora_rank=4, backbone_kwargs={"seed": 3})
    assert PolicyConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="Did you mean 'lora'"):
        PolicyConfig(finetune="lorra")
    with pytest.raises(ConfigError, match="max_candidates"):
        PolicyConfig(max_candidates=0)
    with pytest.raises(ConfigError, match="Did you mean 'lora_rank'"):
        PolicyConfig.from_dict({"lora_rnk": 4})


@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-gpt2", "tiny-clip"])
def test_web_policy_scores_variable_candidate_sets(backbone: str, web_spaces) -> None:
    policy = build_policy(PolicyConfig(backbone=backbone), *web_spaces)
    expected = "generative_scorer" if backbone == "tiny-gpt2" else "text_scorer"
    assert policy.head_kind == expected
    batch = [web_obs(COMMANDS), web_obs(("back",)), web_obs(())]
    arrays = policy.encode_observations(batch)
    logits, values = policy(policy.to_tensors(arrays))
    assert logits.shape == (3, 4) and values.shape == (3,)
    assert (logits[1, 1:] == NEG_INF).all() and (logits[2] == NEG_INF).all()
    probs = logits[:2].softmax(-1)
    assert torch.allclose(probs.sum(-1), torch.ones(2)) and probs[1, 0] == 1.0
    log_prob, entropy, value = policy.evaluate_actions(batch[:2], ["search[red cotton shirt]", "back"])
    assert (log_prob <= 0).all() and log_prob[1] == 0 and entropy[1] == 0
    assert torch.allclose(value, values[:2])
    assert policy.act(batch[0]) in COMMANDS and policy.act(batch[2]) == ""
    with pytest.raises(ConfigError, match="not among"):
        policy.evaluate_actions(batch[:1], ["click[99]"])


@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-gpt2"])
def test_candidate_scores_do_not_depend_on_order_or_neighbours(backbone: str, web_spaces) -> None:
    policy = build_policy(PolicyConfig(backbone=backbone), *web_spaces)
    forward = policy.encode_observations
    a = policy(policy.to_tensors(forward([web_obs(COMMANDS)])))[0][0]
    b = policy(policy.to_tensors(forward([web_obs(COMMANDS[::-1])])))[0][0]
    assert torch.allclose(a, b.flip(0), atol=1e-5)
    pair = policy(policy.to_tensors(forward([web_obs(COMMANDS), web_obs(COMMANDS[:2], "go back")])))[0]
    assert torch.allclose(pair[0], a, atol=1e-5)


def test_sampling_temperature_flattens_or_sharpens_the_policy(web_spaces) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces)
    logits = torch.tensor([[2.0, 0.0, -1.0, NEG_INF]]).expand(4000, -1)

    def shares(temperature: float) -> np.ndarray:
        generator = torch.Generator().manual_seed(0)
        picks = policy.sample_indices(logits, False, generator, temperature).numpy()
        return np.bincount(picks, minlength=4) / len(picks)

    base = torch.tensor([2.0, 0.0, -1.0])
    for temperature in (1.0, 3.0):
        expected = np.append((base / temperature).softmax(0).numpy(), 0.0)
        np.testing.assert_allclose(shares(temperature), expected, atol=0.03)  # 4000 draws: sd <= 0.008
    assert shares(0.01)[0] == 1.0  # a cold sample is the greedy action
    obs = web_obs(COMMANDS)
    generator = torch.Generator().manual_seed(1)
    assert policy.act(obs, False, generator, temperature=2.0) in COMMANDS


def test_generative_scores_are_command_log_likelihoods(web_spaces) -> None:
    """The KV-cache scorer equals log p(command + EOS | prompt) from one plain forward pass of the LM."""
    policy = build_policy(PolicyConfig(backbone="tiny-gpt2", max_obs_tokens=64), *web_spaces)
    obs = web_obs(COMMANDS)
    arrays = policy.encode_observations([obs])
    logits, _ = policy(policy.to_tensors(arrays))
    lm = policy.backbone.model
    prompt = [int(t) for t, m in zip(arrays["obs_ids"][0], arrays["obs_mask"][0], strict=True) if m]
    for k in range(len(COMMANDS)):
        cmd = [int(t) for t, m in zip(arrays["cand_ids"][0, k], arrays["cand_mask"][0, k], strict=True) if m]
        assert cmd[-1] == policy.backbone.tokenizer.eos_token_id
        ids = torch.tensor([prompt + cmd])
        with torch.no_grad():
            lp = lm(input_ids=ids).logits.log_softmax(-1)[0]
        expected = sum(lp[len(prompt) - 1 + i, t] for i, t in enumerate(cmd))
        assert torch.isclose(logits[0, k], expected, atol=1e-4)


def test_finetune_modes_control_trainable_parameters(web_spaces) -> None:
    sizes = {}
    outputs = {}
    obs = [web_obs(COMMANDS)]
    for mode in ("frozen", "lora", "full"):
        policy = build_policy(PolicyConfig(backbone="tiny-bert", finetune=mode), *web_spaces)
        trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
        backbone_trainable = {n for n in trainable if n.startswith("backbone.")}
        if mode == "frozen":
            assert not backbone_trainable
        elif mode == "lora":
            assert backbone_trainable and all("lora_" in n for n in backbone_trainable)
            assert any(".query." in n for n in backbone_trainable) and any(
                ".value." in n for n in backbone_trainable
            )
        else:
            assert all(p.requires_grad for p in policy.parameters())
        sizes[mode] = policy.num_trainable_parameters()
        outputs[mode] = policy.evaluate_actions(obs, ["click[3]"])[0].detach()
    assert sizes["frozen"] < sizes["lora"] < sizes["full"]
    # LoRA starts as the identity update: the policy's outputs do not change when adapters are added.
    assert torch.allclose(outputs["frozen"], outputs["lora"]) and torch.allclose(
        outputs["frozen"], outputs["full"]
    )


def test_behaviour_cloning_steps_raise_the_expert_log_prob(web_spaces) -> None:
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", finetune="lora", head_hidden=32), *web_spaces
    ).train()
    optimizer = torch.optim.Adam(policy.trainable_parameters(), lr=1e-2)
    batch = [web_obs(COMMANDS), web_obs(COMMANDS[:3], "go to the search page")]
    actions = ["search[red cotton shirt]", "click[1]"]
    first = policy.evaluate_actions(batch, actions)[0].mean().item()
    for _ in range(40):
        loss = -policy.evaluate_actions(batch, actions)[0].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert policy.evaluate_actions(batch, actions)[0].mean().item() > first + 0.5
    assert policy.act_batch(batch) == actions


def test_build_policy_is_seeded_and_leaves_the_global_rng_alone(web_spaces) -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = build_policy(PolicyConfig(backbone="tiny-bert", finetune="lora"), *web_spaces)
    assert torch.equal(state, torch.get_rng_state())
    b = build_policy(PolicyConfig(backbone="tiny-bert", finetune="lora"), *web_spaces)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("backbone", ["tiny-clip", "tiny-bert+tiny-clip"])
def test_pick_place_policy(backbone: str, tabletop_spaces) -> None:
    policy = build_policy(
        PolicyConfig(backbone=backbone, finetune="lora", grid_size=8, yaw_bins=5), *tabletop_spaces
    )
    assert policy.head_kind == "pick_place" and policy.action_nvec == [64, 5, 64, 5]
    obs = [tabletop_obs(0), tabletop_obs(1, "put the blue block in the yellow bowl")]
    action = policy.act(obs[0])
    assert action.dtype == np.float32 and action.shape == (6,) and tabletop_spaces[1].contains(action)
    log_prob, entropy, value = policy.evaluate_actions(obs, [action, np.zeros(6, np.float32)])
    assert log_prob.shape == entropy.shape == value.shape == (2,)
    assert torch.isclose(entropy[0], entropy.new_tensor(2 * (np.log(64) + np.log(5))), rtol=0.05)
    log_prob.sum().backward()
    # The instruction conditions the heatmaps (FiLM): another instruction gives other logits.
    other = dict(obs[0], instruction="stack the green block on the red block")
    logits = policy(policy.to_tensors(policy.encode_observations([obs[0], other])))[0]
    assert not torch.allclose(logits[0], logits[1])


def test_tabletop_actions_map_to_cells_and_back(tabletop_spaces) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=16, yaw_bins=9), *tabletop_spaces)
    rng = np.random.default_rng(0)
    for _ in range(50):
        action = rng.uniform(-1, 1, 6).astype(np.float32)
        back = policy.index_to_action({}, policy.action_to_index({}, action))
        assert np.all(np.abs(back[[0, 1, 3, 4]] - action[[0, 1, 3, 4]]) <= 1 / 16 + 1e-6)
        assert np.all(np.abs(back[[2, 5]] - action[[2, 5]]) <= 1 / 9 + 1e-6)
    assert policy.index_to_action({}, policy.action_to_index({}, np.zeros(6)))[2] == 0.0  # odd bins: 0 exact
    weird = policy.action_to_index({}, np.array([np.nan, np.inf, -np.inf, 5, -5, 0]))
    assert weird.shape == (4,) and (weird >= 0).all()


def test_modality_errors_name_the_backbones_that_fit(web_spaces, tabletop_spaces) -> None:
    with pytest.raises(ModalityError, match="tiny-clip") as info:
        build_policy(PolicyConfig(backbone="tiny-bert"), *tabletop_spaces)
    assert "minilm+efficientnet" in str(info.value)
    with pytest.raises(ModalityError, match="generative_scorer"):
        build_policy(PolicyConfig(backbone="tiny-bert", head="generative_scorer"), *web_spaces)
    with pytest.raises(ModalityError, match="pick_place or Box"):  # ee_delta (Box(5,)) has its own heads
        build_policy(
            PolicyConfig(backbone="tiny-clip"), tabletop_spaces[0], spaces.Box(-1, 1, (4,), np.float32)
        )
    with pytest.raises(ModalityError, match="instruction"):
        build_policy(PolicyConfig(backbone="tiny-bert"), spaces.Box(0, 1, (3,)), web_spaces[1])


def test_lora_needs_targets() -> None:
    from rlft.policies import apply_finetune

    backbone = load_backbone("tiny-bert")
    backbone.lora_targets = ()
    with pytest.raises(ConfigError, match="lora_targets"):
        apply_finetune(backbone, "lora")


def test_thread_count_is_a_setting(web_spaces) -> None:
    before = torch.get_num_threads()
    try:
        build_policy(PolicyConfig(backbone="tiny-bert", torch_threads=2), *web_spaces)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_top_down_view_is_preferred_when_the_env_has_one(tabletop_spaces) -> None:
    obs_space, act_space = tabletop_spaces
    spaces_td = spaces.Dict(
        {
            **obs_space.spaces,
            "colormap": spaces.Box(0, 255, (32, 48, 3), np.uint8),
            "heightmap": spaces.Box(0.0, 2.0, (32, 48), np.float32),
        }
    )
    auto = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), spaces_td, act_space)
    assert (auto.interface.image_key, auto.interface.depth_key) == ("colormap", "heightmap")
    camera = build_policy(PolicyConfig(backbone="tiny-clip", view="camera"), spaces_td, act_space)
    assert camera.interface.image_key == "rgb"
    obs = dict(
        tabletop_obs(), colormap=np.zeros((32, 48, 3), np.uint8), heightmap=np.zeros((32, 48), np.float32)
    )
    assert auto.encode_observations([obs])["rgb"].shape == (1, 3, 32, 48)
    assert act_space.contains(auto.act(obs))
    with pytest.raises(ModalityError, match="heightmap=True"):
        build_policy(PolicyConfig(backbone="tiny-clip", view="top_down"), obs_space, act_space)


def test_pixel_skip_default_and_configs_saved_before_it(tabletop_spaces) -> None:
    assert PolicyConfig().pixel_skip is True
    legacy = PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3).to_dict()
    del legacy["pixel_skip"]  # a config.json written before the field existed
    assert PolicyConfig.from_dict(legacy).pixel_skip is False
    # Partial dicts (CLI / BC policy_kwargs) get the new default.
    assert PolicyConfig.from_dict({"backbone": "tiny-clip"}).pixel_skip is True
    with pytest.raises(ConfigError, match="pixel_skip"):
        PolicyConfig(pixel_skip="yes")
    old = build_policy(PolicyConfig.from_dict(legacy), *tabletop_spaces)
    new = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), *tabletop_spaces)
    assert not hasattr(old.head.pick, "refine2") and hasattr(new.head.pick, "refine2")
    obs = [tabletop_obs(0), tabletop_obs(1)]
    for policy in (old, new):
        logits, values = policy(policy.to_tensors(policy.encode_observations(obs)))
        assert logits.shape == (2, 2 * (64 + 3)) and values.shape == (2,)


def test_pixel_skip_reads_the_image_at_each_grid_cell(tabletop_spaces) -> None:
    # With the image fed at grid resolution, a pick cell's logit depends on the pixels under that cell
    # through the head's own convolutions, not only through the backbone's coarse global features.
    policy = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), *tabletop_spaces)
    batch = policy.to_tensors(policy.encode_observations([tabletop_obs(0)]))
    pixels = batch["rgb"].clone().requires_grad_(True)
    head = policy.head
    text = policy.backbone.encode_text(batch["instr_ids"], batch["instr_mask"])
    features = head.proj(policy.backbone.encode_image(batch["rgb"])).detach()
    extra = torch.zeros(1, 3, *features.shape[-2:])
    grid = torch.nn.functional.interpolate(
        torch.cat([pixels, batch["depth"].unsqueeze(1)], dim=1), size=(8, 8), mode="bilinear"
    )
    heatmap, _, _ = head.pick(features, extra, text, grid)
    heatmap[0, 0].backward()  # cell (row 0, col 0): the image's top-left corner
    grad = pixels.grad.abs().sum(dim=(0, 1))
    h, w = grad.shape
    assert grad[: h // 4, : w // 4].sum() > 0 and grad[h // 2 :, w // 2 :].sum() == 0
