"""Policy-independent observation wrappers, so Stable-Baselines3's own policies can train on rlft envs.

SB3 supports neither ``Text`` nor ``Sequence`` spaces. Two wrappers turn rlft observations into the spaces
its ``MultiInputPolicy`` and ``CnnPolicy`` take; neither knows anything of rlft's own policies:

* :class:`TokenizeObservation`: every ``Text`` key (``instruction``, ``page``, ``url``,
  ``last_action_error``) becomes a fixed-length ``Box`` of token ids from any Hugging Face tokenizer.
  On web envs the admissible commands (and their descriptions, row for row) become a fixed number of
  padded, tokenized candidates plus a mask,
  the action space becomes ``Discrete(max_commands)`` (action ``i`` sends the ``i``-th admissible
  command) and :meth:`TokenizeObservation.action_masks` serves ``sb3_contrib.MaskablePPO``.
* :class:`ImageObservation`: one image key alone (tabletop's ``rgb``, a ``Box`` of uint8), for
  ``CnnPolicy``. To keep the instruction beside the image, tokenize instead:
  ``TokenizeObservation(env, tokenizer, keys=("rgb", "instruction"))``.

Example (PPO on a tabletop id, MaskablePPO on a web id)::

    import gymnasium as gym
    import rlft
    from rlft.envs.wrappers import ImageObservation, TokenizeObservation
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    PPO("CnnPolicy", ImageObservation(gym.make("rlft/TabletopPutBlockInBowl-v0"))).learn(2048)
    web = TokenizeObservation(gym.make("rlft/WebFormLogin-v0"), "path/to/tokenizer", max_commands=32)
    MaskablePPO("MultiInputPolicy", web).learn(2048)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from rlft.errors import ConfigError, check_int, require

COMMANDS_KEY = "admissible_commands"
"""The observation key of a web env's admissible commands (a ``Sequence`` of ``Text``)."""
DESCRIPTIONS_KEY = "admissible_descriptions"
"""The observation key of what each admissible command acts on (a ``Sequence`` of ``Text``, same order)."""
MASK_KEY = "admissible_mask"
"""Key :class:`TokenizeObservation` adds: 1 for each candidate slot that holds an admissible command."""


class TokenIds:
    """Turn strings into fixed-length rows of token ids with a Hugging Face tokenizer.

    Args:
        tokenizer: a ``transformers`` tokenizer, a ``tokenizers.Tokenizer``, or the name / folder of a
            ``transformers`` tokenizer, loaded from local files only (nothing is downloaded).

    Raises:
        ConfigError: when ``tokenizer`` is neither, or cannot be loaded from local files.
        DependencyError: when a name is given and ``transformers`` is not installed.
    """

    def __init__(self, tokenizer: Any) -> None:
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = self._load(str(tokenizer))
        if callable(getattr(tokenizer, "encode_batch", None)):  # tokenizers.Tokenizer
            self._fast = tokenizer
            self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
            padding = tokenizer.padding or {}
            self.pad_id = int(padding.get("pad_id", 0))
        elif callable(tokenizer) and hasattr(tokenizer, "pad_token_id"):  # transformers tokenizer
            self._fast = None
            self.vocab_size = len(tokenizer)
            self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0
        else:
            raise ConfigError(
                f"tokenizer={type(tokenizer).__name__} is not a Hugging Face tokenizer: pass a transformers "
                "tokenizer, a tokenizers.Tokenizer, or the name/folder of a saved transformers tokenizer."
            )
        self.tokenizer = tokenizer
        self.vocab_size = max(self.vocab_size, self.pad_id + 1)

    @staticmethod
    def _load(name: str) -> Any:
        transformers = require("transformers", "loading a tokenizer by name")
        try:
            return transformers.AutoTokenizer.from_pretrained(name, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"tokenizer={name!r} could not be loaded from local files ({exc}); pass a folder written by "
                "save_pretrained or a tokenizer object."
            ) from exc

    def space(self, *shape: int) -> spaces.Box:
        """The ``Box`` of token ids of the given shape."""
        return spaces.Box(0, self.vocab_size - 1, shape, np.int64)

    def encode(self, texts: Sequence[str], length: int) -> np.ndarray:
        """Token ids of ``texts``, one row each: cut to ``length``, padded with the pad id."""
        out = np.full((len(texts), length), self.pad_id, dtype=np.int64)
        if not texts:
            return out
        if self._fast is not None:
            rows = [encoding.ids for encoding in self._fast.encode_batch(list(texts))]
        else:
            rows = self.tokenizer(list(texts), truncation=True, max_length=length)["input_ids"]
        for i, ids in enumerate(rows):
            ids = ids[:length]
            out[i, : len(ids)] = ids
        return out


class TokenizeObservation(gym.Wrapper[dict[str, Any], Any, dict[str, Any], Any]):
    """Tokenized, fixed-size observations (and, on web envs, ``Discrete`` actions over the candidates).

    **Observation** (``spaces.Dict`` of the kept keys): each ``Text`` key becomes ``Box(0, vocab - 1,
    (max_tokens,), int64)`` of token ids padded with the tokenizer's pad id; ``admissible_commands``
    becomes ``Box(0, vocab - 1, (max_commands * command_tokens,), int64)``: the first ``max_commands``
    commands, ``command_tokens`` ids each, row after row (flat, as SB3's checker asks; ``reshape(
    max_commands, command_tokens)`` gives the rows back), with ``admissible_mask``
    (``MultiBinary(max_commands)``) beside it; ``admissible_descriptions`` becomes the same kind of
    ``Box`` with ``description_tokens`` ids per row, row ``i`` describing command ``i``; other keys
    (images, depth, heightmaps) pass unchanged.

    **Action**: on an env with a text action space the wrapper's action space is
    ``Discrete(max_commands)``: action ``i`` sends the ``i``-th admissible command; an index past the
    current commands sends an empty command, which the env reports as an invalid action (an observation,
    not an exception). Box action spaces (tabletop) pass unchanged.

    Args:
        env: an rlft env (or any env with a flat ``Dict`` observation space).
        tokenizer: see :class:`TokenIds`.
        max_tokens: length of each tokenized text field.
        max_tokens_per_key: per-key lengths overriding ``max_tokens`` (e.g. ``{"page": 512}``).
        keys: the observation keys to keep (default: all).
        max_commands: candidate slots (web); commands past this many cannot be chosen.
        command_tokens: length of each tokenized candidate.
        description_tokens: length of each tokenized candidate description.

    Raises:
        ConfigError: for a non-``Dict`` observation space, unknown ``keys``, bad lengths, or a text action
            space without admissible commands to choose from.
    """

    def __init__(
        self,
        env: gym.Env,
        tokenizer: Any,
        *,
        max_tokens: int = 64,
        max_tokens_per_key: Mapping[str, int] | None = None,
        keys: Sequence[str] | None = None,
        max_commands: int = 32,
        command_tokens: int = 16,
        description_tokens: int = 32,
    ) -> None:
        super().__init__(env)
        source = env.observation_space
        if not isinstance(source, spaces.Dict):
            raise ConfigError(f"TokenizeObservation needs a Dict observation space, got {source}.")
        self.keys = tuple(source.spaces) if keys is None else tuple(keys)
        unknown = [key for key in self.keys if key not in source.spaces]
        if unknown or not self.keys:
            raise ConfigError(
                f"keys={list(self.keys)!r}: pick one or more of the observation keys {list(source.spaces)}."
            )
        self.tokens = TokenIds(tokenizer)
        self.max_commands = check_int("max_commands", max_commands)
        self.command_tokens = check_int("command_tokens", command_tokens)
        self.description_tokens = check_int("description_tokens", description_tokens)
        lengths = dict(max_tokens_per_key or {})
        check_int("max_tokens", max_tokens)
        for key, value in lengths.items():
            if key not in source.spaces or not isinstance(source[key], spaces.Text):
                raise ConfigError(f"max_tokens_per_key names {key!r}, which is not a Text observation key.")
            check_int(f"max_tokens_per_key[{key!r}]", value)
        self.text_lengths = {
            key: lengths.get(key, max_tokens) for key in self.keys if isinstance(source[key], spaces.Text)
        }
        self.choose_commands = isinstance(env.action_space, spaces.Text)
        has_commands = COMMANDS_KEY in source.spaces and isinstance(source[COMMANDS_KEY], spaces.Sequence)
        if self.choose_commands and not has_commands:
            raise ConfigError(
                f"The env's actions are text but its observations have no {COMMANDS_KEY!r} to choose from."
            )

        out: dict[str, spaces.Space] = {}
        for key in self.keys:
            if key in self.text_lengths:
                out[key] = self.tokens.space(self.text_lengths[key])
            elif key == COMMANDS_KEY and has_commands:
                out[key] = self.tokens.space(self.max_commands * self.command_tokens)
                out[MASK_KEY] = spaces.MultiBinary(self.max_commands)
            elif key == DESCRIPTIONS_KEY and has_commands and isinstance(source[key], spaces.Sequence):
                out[key] = self.tokens.space(self.max_commands * self.description_tokens)
            elif isinstance(source[key], (spaces.Sequence, spaces.Graph, spaces.Dict, spaces.Tuple)):
                raise ConfigError(f"Observation key {key!r} ({source[key]}) has no fixed-size form.")
            else:
                out[key] = source[key]
        self.observation_space = spaces.Dict(out)
        self._tokenize_commands = has_commands
        self._tokenize_descriptions = DESCRIPTIONS_KEY in out and DESCRIPTIONS_KEY not in self.text_lengths
        if self.choose_commands:
            self.action_space = spaces.Discrete(self.max_commands)
        self._commands: tuple[str, ...] = ()

    # -- Gymnasium API --------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reset the env and return the tokenized first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observation(obs), info

    def step(self, action: Any) -> tuple[dict[str, Any], Any, bool, bool, dict[str, Any]]:
        """Send ``action`` (a candidate index on web envs) and return the tokenized observation."""
        obs, reward, terminated, truncated, info = self.env.step(self.command(action))
        return self.observation(obs), reward, terminated, truncated, info

    # -- conversions ----------------------------------------------------------------------------------
    def observation(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        """The fixed-size form of one env observation (remembers its commands for :meth:`command`)."""
        if COMMANDS_KEY in obs:
            self._commands = tuple(obs[COMMANDS_KEY])
        out: dict[str, Any] = {}
        for key in self.keys:
            if key in self.text_lengths:
                out[key] = self.tokens.encode([obs[key]], self.text_lengths[key])[0]
            elif key == COMMANDS_KEY and self._tokenize_commands:
                out[key] = self._command_ids()
                out[MASK_KEY] = self.action_masks().astype(np.int8)
            elif key == DESCRIPTIONS_KEY and self._tokenize_descriptions:
                out[key] = self._rows(tuple(obs[key]), self.description_tokens)
            else:
                out[key] = obs[key]
        return out

    def command(self, action: Any) -> Any:
        """The env action for a wrapper action: the chosen command string on web envs, else unchanged."""
        if not self.choose_commands:
            return action
        index = int(np.asarray(action).reshape(-1)[0])
        return self._commands[index] if 0 <= index < min(len(self._commands), self.max_commands) else ""

    def action_masks(self) -> np.ndarray:
        """Which of the ``max_commands`` actions pick an admissible command now (for ``MaskablePPO``).

        Raises:
            ConfigError: when the env's actions are not text commands.
        """
        if not self.choose_commands:
            raise ConfigError("action_masks() needs an env with text commands (a web env).")
        mask = np.zeros(self.max_commands, dtype=bool)
        mask[: min(len(self._commands), self.max_commands)] = True
        return mask

    def _command_ids(self) -> np.ndarray:
        return self._rows(self._commands, self.command_tokens)

    def _rows(self, texts: Sequence[str], length: int) -> np.ndarray:
        ids = np.full((self.max_commands, length), self.tokens.pad_id, dtype=np.int64)
        shown = list(texts[: self.max_commands])
        ids[: len(shown)] = self.tokens.encode(shown, length)
        return ids.reshape(-1)


class ImageObservation(gym.ObservationWrapper[np.ndarray, Any, dict[str, Any]]):
    """One image key of a ``Dict`` observation alone, as a uint8 ``Box`` (for SB3's ``CnnPolicy``).

    The instruction is dropped. To keep it, use ``TokenizeObservation(env, tokenizer, keys=("rgb",
    "instruction"))`` with ``MultiInputPolicy`` instead.

    Args:
        env: an env with a ``Dict`` observation space (tabletop).
        key: the image key (``rgb``; ``colormap`` with ``heightmap=True``).

    Raises:
        ConfigError: when ``key`` is not a uint8 ``Box`` of shape (height, width, channels).
    """

    def __init__(self, env: gym.Env, key: str = "rgb") -> None:
        super().__init__(env)
        source = env.observation_space
        space = source.spaces.get(key) if isinstance(source, spaces.Dict) else None
        if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3):
            keys = list(source.spaces) if isinstance(source, spaces.Dict) else []
            raise ConfigError(f"key={key!r} is not a uint8 image in the observation (keys: {keys}).")
        self.key = key
        self.observation_space = space

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        """The image."""
        return observation[self.key]
