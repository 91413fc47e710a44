"""The backbone registry: built-ins, the decorator, the entry-point group, errors, the subclass contract."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from rlft.errors import ConfigError, UnknownBackboneError
from rlft.policies import (
    Backbone,
    PolicyConfig,
    build_policy,
    list_backbones,
    load_backbone,
    register_backbone,
    reload_entry_points,
    unregister_backbone,
)

from .conftest import web_obs

BUILTINS = {
    "minilm",
    "smollm2-135m",
    "efficientnet-lite0",
    "minilm+efficientnet",
    "clip:<id-or-path>",
    "hf:<id-or-path>",
    "tiny-bert",
    "tiny-gpt2",
    "tiny-clip",
}


def test_list_backbones_has_every_builtin() -> None:
    assert set(list_backbones()) >= BUILTINS
    details = {e.name: e for e in list_backbones(details=True)}
    assert details["tiny-gpt2"].modality == "causal_lm"
    assert details["minilm+efficientnet"].modality == "vision_language"


def test_importing_the_registry_does_not_import_torch() -> None:
    code = "import sys, rlft.policies as p; p.list_backbones(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_backbone_lists_known_names_and_suggests() -> None:
    with pytest.raises(UnknownBackboneError) as info:
        load_backbone("tiny-brt")
    message = str(info.value)
    assert "Did you mean 'tiny-bert'?" in message
    assert "minilm" in message and "hf:<id-or-path>" in message
    with pytest.raises(KeyError):  # UnknownBackboneError is a KeyError too
        load_backbone("no-such-model")


def test_family_spec_needs_an_argument() -> None:
    with pytest.raises(ConfigError, match="hf:<path>"):
        load_backbone("hf:")


@pytest.mark.parametrize("spec", ["tiny-bert", "tiny-gpt2", "tiny-clip"])
def test_tiny_backbones_are_deterministic_and_in_eval_mode(spec: str) -> None:
    a, b = load_backbone(spec), load_backbone(spec)
    assert a.spec == spec and not a.training
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    other = load_backbone(spec, seed=1)
    # the seed sets the random weights
    assert any(not torch.equal(x, y) for x, y in zip(a.parameters(), other.parameters(), strict=True))


def test_subclass_contract_is_checked_at_class_definition() -> None:
    with pytest.raises(TypeError, match="must implement encode_text"):

        class NoEncoder(Backbone):
            modality = "text"

    with pytest.raises(TypeError, match="modality"):

        class BadModality(Backbone):
            modality = "audio"

            def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return input_ids.float()

    with pytest.raises(TypeError, match="continuation_log_probs"):

        class HalfLM(Backbone):
            modality = "causal_lm"

            def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return input_ids.float()


def test_missing_instance_attributes_are_reported() -> None:
    class Forgetful(Backbone):
        modality = "text"

        def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return input_ids.float()

    register_backbone("test-forgetful")(Forgetful)
    try:
        with pytest.raises(ConfigError, match="hidden_size"):
            load_backbone("test-forgetful")
    finally:
        unregister_backbone("test-forgetful")


def test_decorator_registers_a_user_backbone_that_becomes_a_policy(web_spaces) -> None:
    from rlft.policies.tiny import tiny_tokenizer

    @register_backbone("test-bag-of-words")
    class BagOfWords(Backbone):
        """A user's backbone: mean of learned token embeddings."""

        modality = "text"

        def __init__(self, dim: int = 16) -> None:
            super().__init__()
            self._tok = tiny_tokenizer()
            self.embed = torch.nn.Embedding(len(self._tok), dim)
            self.hidden_size = dim

        @property
        def tokenizer(self):
            return self._tok

        def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            mask = attention_mask.unsqueeze(-1).float()
            return (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)

    try:
        assert "test-bag-of-words" in list_backbones()
        register_backbone("test-bag-of-words")(BagOfWords)  # the same class again: a no-op

        class Other(BagOfWords):
            pass

        with pytest.raises(ConfigError, match="already registered"):
            register_backbone("test-bag-of-words")(Other)
        policy = build_policy(
            PolicyConfig(backbone="test-bag-of-words", backbone_kwargs={"dim": 8}), *web_spaces
        )
        assert policy.backbone.hidden_size == 8
        obs = web_obs(("click[1]", "click[3]", "back"))
        assert policy.act(obs) in obs["admissible_commands"]
    finally:
        unregister_backbone("test-bag-of-words")
    assert "test-bag-of-words" not in list_backbones()


def test_entry_point_group_registers_a_backbone_from_another_package(tmp_path: Path, monkeypatch) -> None:
    """A third-party distribution declares ``rlft.backbones`` in its metadata; nothing is imported early."""
    pkg = tmp_path / "acme_backbones"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            from rlft.policies.tiny import TinyBertBackbone

            IMPORTED = True

            class AcmeBackbone(TinyBertBackbone):
                '''A plug-in that reuses tiny-bert with another seed.'''

                def __init__(self):
                    super().__init__(seed=7)
            """
        )
    )
    dist = tmp_path / "acme_backbones-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-backbones\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rlft.backbones]\nacme-bert = acme_backbones:AcmeBackbone\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reload_entry_points()
    try:
        assert "acme-bert" in list_backbones()
        assert "acme_backbones" not in sys.modules  # listed lazily, imported on load
        backbone = load_backbone("acme-bert")
        assert backbone.modality == "text" and backbone.spec == "acme-bert"
        assert sys.modules["acme_backbones"].IMPORTED
    finally:
        unregister_backbone("acme-bert")
        sys.modules.pop("acme_backbones", None)


def test_hf_family_detects_encoders_and_causal_lms(tmp_path: Path) -> None:
    for spec, modality in [
        ("tiny-bert", "text"),
        ("tiny-gpt2", "causal_lm"),
        ("tiny-clip", "vision_language"),
    ]:
        source = load_backbone(spec)
        folder = tmp_path / spec
        source.model.save_pretrained(folder)
        source.tokenizer.save_pretrained(folder)
        loaded = load_backbone(f"hf:{folder}")
        assert loaded.modality == modality
        expected, got = source.model.state_dict(), loaded.model.state_dict()
        assert expected.keys() == got.keys()
        assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert load_backbone(f"clip:{tmp_path / 'tiny-clip'}").modality == "vision_language"


def test_hf_family_reports_missing_models_without_downloading(tmp_path: Path) -> None:
    from rlft.errors import DependencyError

    with pytest.raises(DependencyError, match="never downloads"):
        load_backbone(f"hf:{tmp_path / 'nothing-here'}")


def test_text_vision_pair_spec(tabletop_spaces) -> None:
    backbone = load_backbone("tiny-bert+tiny-clip")
    assert backbone.modality == "vision_language"
    assert backbone.hidden_size == 32 and backbone.vision_channels == 32
    with pytest.raises(ConfigError, match="must encode images"):
        load_backbone("tiny-bert+tiny-gpt2")


def _plugin_package(tmp_path: Path, name: str, decorated: bool) -> None:
    """A third-party distribution ``name`` declaring ``<name>-bert`` in ``rlft.backbones``."""
    pkg = tmp_path / name
    pkg.mkdir()
    decorator = f'@register_backbone("{name}-bert")' if decorated else ""
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            from rlft.policies import register_backbone
            from rlft.policies.tiny import TinyBertBackbone

            {decorator}
            class PluginBackbone(TinyBertBackbone):
                '''A plug-in that reuses tiny-bert with another seed.'''

                def __init__(self):
                    super().__init__(seed=7)
            """
        )
    )
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[rlft.backbones]\n{name}-bert = {name}:PluginBackbone\n")


@pytest.mark.parametrize("import_first", [False, True])
def test_decorator_and_entry_point_for_the_same_class_are_idempotent(
    tmp_path: Path, monkeypatch, import_first: bool
) -> None:
    """The README's decorator example inside a package that also declares the entry point."""
    name = f"dual_plugin_{int(import_first)}"
    _plugin_package(tmp_path, name, decorated=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        if import_first:
            __import__(name)  # the decorator registers first, the entry point scan second
        reload_entry_points()
        backbone = load_backbone(f"{name}-bert")  # imports the module: the decorator runs (again)
        assert backbone.spec == f"{name}-bert" and type(backbone).__name__ == "PluginBackbone"
        assert list_backbones().count(f"{name}-bert") == 1
    finally:
        unregister_backbone(f"{name}-bert")
        sys.modules.pop(name, None)


def test_unknown_backbone_error_names_every_way_to_add_one() -> None:
    with pytest.raises(UnknownBackboneError) as info:
        load_backbone("my-own-model")
    message = str(info.value)
    assert "module:ClassName" in message and "entry-point" in message and "rlft.backbones" in message
    assert "@register_backbone" in message


def _user_module(folder: Path, name: str) -> None:
    (folder / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from rlft.policies.tiny import TinyBertBackbone

            class UserBackbone(TinyBertBackbone):
                '''A backbone defined in the user's own file, never registered.'''

                def __init__(self, seed: int = 3):
                    super().__init__(seed=seed)

            class NotABackbone:
                pass
            """
        )
    )


def test_module_class_spec_builds_an_unregistered_backbone(tmp_path: Path, monkeypatch, web_spaces) -> None:
    _user_module(tmp_path, "user_backbones_a")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        spec = "user_backbones_a:UserBackbone"
        backbone = load_backbone(spec, seed=4)
        assert type(backbone).__name__ == "UserBackbone" and backbone.spec == spec
        policy = build_policy(PolicyConfig(backbone=spec), *web_spaces)
        policy.save(tmp_path / "ckpt")
        from rlft.policies import load_policy

        loaded = load_policy(tmp_path / "ckpt")
        assert loaded.config.backbone == spec
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in policy.state_dict().items())
        with pytest.raises(ConfigError, match=r"not an rlft\.policies\.Backbone subclass"):
            load_backbone("user_backbones_a:NotABackbone")
        with pytest.raises(ConfigError, match="no attribute"):
            load_backbone("user_backbones_a:Missing")
    finally:
        sys.modules.pop("user_backbones_a", None)
    with pytest.raises(UnknownBackboneError, match="module:ClassName"):
        load_backbone("no_such_user_module:Backbone")


def test_module_class_spec_finds_a_module_in_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    """A console script has no current directory on sys.path; the spec still finds the user's file."""
    _user_module(tmp_path, "user_backbones_b")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert load_backbone("user_backbones_b:UserBackbone").modality == "text"
        assert str(tmp_path) not in sys.path  # the lookup does not leave the directory on sys.path
    finally:
        sys.modules.pop("user_backbones_b", None)


def test_hf_folder_without_tokenizer_files_is_refused(tmp_path: Path) -> None:
    source = load_backbone("tiny-bert")
    source.model.save_pretrained(tmp_path / "no-tokenizer")  # weights and config only
    with pytest.raises(ConfigError, match="no tokenizer"):
        load_backbone(f"hf:{tmp_path / 'no-tokenizer'}")


def test_clip_family_checks_the_model_type(tmp_path: Path) -> None:
    from rlft.errors import ModalityError

    source = load_backbone("tiny-bert")
    source.model.save_pretrained(tmp_path / "bert")
    source.tokenizer.save_pretrained(tmp_path / "bert")
    with pytest.raises(ModalityError, match="'bert' model, not CLIP"):
        load_backbone(f"clip:{tmp_path / 'bert'}")


def test_hf_progress_bars_are_silenced_on_request_and_restored(tmp_path: Path, capfd, web_spaces) -> None:
    from rlft.policies.hf import hf_progress_bars
    from transformers.utils import logging as hf_logging

    source = load_backbone("tiny-bert")
    source.model.save_pretrained(tmp_path / "bert")
    source.tokenizer.save_pretrained(tmp_path / "bert")
    assert hf_logging.is_progress_bar_enabled()
    with hf_progress_bars(False):
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()
    capfd.readouterr()
    build_policy(PolicyConfig(backbone=f"hf:{tmp_path / 'bert'}"), *web_spaces)
    assert "Loading weights" in capfd.readouterr().err  # transformers' tqdm bar, by default
    build_policy(PolicyConfig(backbone=f"hf:{tmp_path / 'bert'}"), *web_spaces, progress=False)
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()
