"""--env-kwarg values parsed against the env's declared kwargs; policy / random collection; Minari helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rlft.demos import collect_demos, decode_admissible, decode_evaluation, parse_env_kwargs
from rlft.demos.envs import make_env
from rlft.errors import ConfigError

TABLETOP = "rlft/TabletopPutBlockInBowl-v0"


def test_values_parse_as_the_declared_types() -> None:
    for text, value in (("False", False), ("true", True), ("YES", True), ("0", False), ("on", True)):
        assert parse_env_kwargs(TABLETOP, [f"heightmap={text}"]) == {"heightmap": value}
    parsed = parse_env_kwargs(TABLETOP, ["image_size=(64,48)", "heightmap_size=32,40", "max_steps=3"])
    assert parsed == {"image_size": (64, 48), "heightmap_size": (32, 40), "max_steps": 3}
    assert parse_env_kwargs(TABLETOP, ["max_steps=none"]) == {"max_steps": None}
    assert parse_env_kwargs(TABLETOP, ["invalid_action_penalty=0.5"]) == {"invalid_action_penalty": 0.5}
    assert parse_env_kwargs("rlft/WebShop-v0", ["backend=text", "max_steps=7"]) == {
        "backend": "text",
        "max_steps": 7,
    }


def test_web_ids_type_their_tasks_own_kwargs() -> None:
    for text, value in (("False", False), ("true", True)):
        assert parse_env_kwargs("rlft/WebQA-v0", [f"require_quote={text}"]) == {"require_quote": value}
    assert parse_env_kwargs("rlft/WebShop-v0", ["num_products=300"]) == {"num_products": 300}
    with pytest.raises(ConfigError, match="require_quote is a boolean"):
        parse_env_kwargs("rlft/WebQA-v0", ["require_quote=maybe"])
    with pytest.raises(ConfigError, match=r"no kwarg 'require_qoute'. Did you mean 'require_quote'\?"):
        parse_env_kwargs("rlft/WebQA-v0", ["require_qoute=true"])
    with pytest.raises(ConfigError, match="no kwarg 'max_candidates'"):  # a policy setting, not an env kwarg
        parse_env_kwargs("rlft/WebShop-v0", ["max_candidates=32"])
    with pytest.raises(ConfigError, match=r"'num_prods'. Did you mean 'num_products'\?"):
        make_env("rlft/WebShop-v0", env_kwargs={"num_prods": 3})


def test_bad_values_and_unknown_names_are_typed_errors() -> None:
    with pytest.raises(ConfigError, match="heightmap is a boolean; write heightmap=true"):
        parse_env_kwargs(TABLETOP, ["heightmap=maybe"])
    with pytest.raises(ConfigError, match="max_steps is an integer"):
        parse_env_kwargs(TABLETOP, ["max_steps=ten"])
    with pytest.raises(ConfigError, match="takes 2 comma-separated values"):
        parse_env_kwargs(TABLETOP, ["image_size=64"])
    with pytest.raises(ConfigError, match=r"no kwarg 'heightmp'. Did you mean 'heightmap'\?.*camera"):
        parse_env_kwargs(TABLETOP, ["heightmp=true"])
    with pytest.raises(ConfigError, match=r"e\.g\. --env-kwarg max_steps=20"):
        parse_env_kwargs(TABLETOP, ["heightmap"])
    with pytest.raises(ConfigError, match="no kwarg 'backend'"):
        make_env(TABLETOP, "train", {"backend": "chromium"})


def test_typed_kwargs_are_stored_with_their_types(tmp_path: Path) -> None:
    import minari

    kwargs = parse_env_kwargs(TABLETOP, ["heightmap=false", "image_size=48,48"])
    result = collect_demos(TABLETOP, 1, out=tmp_path / "d", env_kwargs=kwargs)
    raw = minari.MinariDataset(str(result.path / "data"))
    assert json.loads(raw.storage.metadata["rlft_env_kwargs"]) == {"heightmap": False, "image_size": [48, 48]}
    spec_kwargs = raw.spec.env_spec.kwargs
    assert spec_kwargs["heightmap"] is False and tuple(spec_kwargs["image_size"]) == (48, 48)
    episode = next(raw.iterate_episodes())
    assert float(episode.infos["score"][-1]) == pytest.approx(1.0)
    assert "subgoals" in decode_evaluation(episode)[-1]


class _FirstCommand:
    """A deterministic non-expert actor: always the first admissible command."""

    def reset(self, env: object, seed: int) -> None:
        pass

    def act(self, obs: dict, env: object) -> str:
        return str(obs["admissible_commands"][0])


def test_actor_data_gets_its_own_id_and_minari_users_can_decode_it(tmp_path: Path) -> None:
    import minari

    result = collect_demos(
        "rlft/WebShop-v0",
        2,
        out=tmp_path / "p",
        actor=_FirstCommand(),
        source="policy",
        keep_failures=True,
        max_steps=3,
    )
    assert result.dataset_id == "rlft/WebShop-train-policy-v0" and result.kept == 2
    raw = minari.MinariDataset(str(result.path / "data"))
    assert raw.storage.metadata["algorithm_name"] == "rlft policy"
    episode = next(raw.iterate_episodes())
    admissible = decode_admissible(episode)
    assert len(admissible) == len(episode.actions) + 1 and all(isinstance(c, str) for c in admissible[0])
    assert episode.actions[0].decode() if isinstance(episode.actions[0], bytes) else episode.actions[0]
    assert len(episode.infos["score"]) == len(episode.actions)
    assert isinstance(decode_evaluation(episode)[-1], dict)
    with pytest.raises(ConfigError, match="needs the actor"):
        collect_demos("rlft/WebShop-v0", 1, out=tmp_path / "r", source="random")
