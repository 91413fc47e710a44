"""What a policy needs to know about an environment, read from its spaces (no env instance needed).

Stored in checkpoints so :func:`~rlft.policies.load_policy` can rebuild a policy without the env.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gymnasium import spaces
from rlft.errors import CheckpointError, ModalityError, check_choice

KINDS: tuple[str, ...] = ("web", "tabletop")
PICK_PLACE_DIM = 6
"""Tabletop ``pick_place`` actions: pick (x, y, yaw), place (x, y, yaw), each in [-1, 1]."""
EE_DELTA_DIM = 5
"""Tabletop ``ee_delta`` actions: dx, dy, dz, dyaw, grip, each in [-1, 1]."""
TABLETOP_STATE_KEYS: tuple[str, ...] = ("step", "ee_state")
"""Opt-in tabletop observation keys (``step_observation`` / ``proprioception``) policies read."""


@dataclass(frozen=True)
class EnvInterface:
    """The observation/action layout of an rlft environment family."""

    kind: str
    """``"web"`` (Text observations + admissible commands, Text actions) or ``"tabletop"``."""
    image_shape: tuple[int, int, int] | None = None
    """Tabletop: shape of the ``rgb`` observation (H, W, 3)."""
    has_depth: bool = False
    """Tabletop: whether the policy reads a depth-like image (H, W)."""
    image_key: str = "rgb"
    """Tabletop: the observation key of the image the policy sees: ``rgb`` (the camera) or
    ``colormap`` (the top-down view, whose rows and columns line up with the action's v and u)."""
    depth_key: str | None = "depth"
    """Tabletop: ``depth`` (camera) or ``heightmap`` (top-down), ``None`` when there is none."""
    action_dim: int = PICK_PLACE_DIM
    """Tabletop: 6 (``pick_place``) or 5 (``ee_delta``)."""
    state_keys: tuple[str, ...] = ()
    """Tabletop: the opt-in low-dimensional keys the policy reads (``step``, ``ee_state``)."""

    @property
    def action_mode(self) -> str:
        """Tabletop: ``pick_place`` or ``ee_delta`` (from :attr:`action_dim`)."""
        return "ee_delta" if self.action_dim == EE_DELTA_DIM else "pick_place"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvInterface:
        """Inverse of :meth:`to_dict`.

        Raises:
            CheckpointError: when ``data`` is not a valid interface record.
        """
        try:
            shape = data.get("image_shape")
            interface = cls(
                kind=data["kind"],
                image_shape=tuple(int(v) for v in shape) if shape is not None else None,  # type: ignore[arg-type]
                has_depth=bool(data.get("has_depth", False)),
                image_key=str(data.get("image_key", "rgb")),
                depth_key=data.get("depth_key", "depth"),
                action_dim=int(data.get("action_dim", PICK_PLACE_DIM)),
                state_keys=tuple(str(k) for k in data.get("state_keys", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"Invalid environment interface record {data!r}: {exc}") from exc
        if interface.kind not in KINDS:
            raise CheckpointError(
                f"Invalid environment kind {interface.kind!r} in checkpoint; expected web or tabletop."
            )
        return interface


VIEWS: tuple[str, ...] = ("auto", "camera", "top_down")
"""Which tabletop image a policy reads: ``top_down`` = ``colormap`` + ``heightmap`` (envs made with
``heightmap=True``), ``camera`` = ``rgb`` + ``depth``, ``auto`` = top-down when the env has it."""


def _image_pair(obs: dict[str, spaces.Space], image_key: str, depth_key: str) -> tuple[tuple, bool] | None:
    image = obs.get(image_key)
    if not (isinstance(image, spaces.Box) and len(image.shape) == 3 and image.shape[-1] == 3):
        return None
    depth = obs.get(depth_key)
    has_depth = isinstance(depth, spaces.Box) and tuple(depth.shape[:2]) == tuple(image.shape[:2])
    return tuple(image.shape), has_depth


def detect_interface(
    observation_space: spaces.Space, action_space: spaces.Space, view: str = "auto"
) -> EnvInterface:
    """Recognise a web or tabletop environment from its spaces.

    Web: a Dict observation with ``admissible_commands`` and a Text action space. Tabletop: a Dict
    observation with a uint8 ``rgb`` image (H, W, 3) (and ``colormap`` for ``heightmap=True`` envs) and
    ``instruction``, and a ``Box(6,)`` pick_place or ``Box(5,)`` ee_delta action space; the opt-in
    ``step`` / ``ee_state`` keys are recorded in ``state_keys`` when the observation has them.

    Args:
        observation_space: The raw env's observation space.
        action_space: The raw env's action space.
        view: Tabletop image choice, one of :data:`VIEWS`. The top-down view is spatially aligned with
            the pick/place grid (CLIPort's choice), so ``auto`` prefers it.

    Raises:
        ModalityError: saying what was expected when the spaces fit neither family.
    """
    if not isinstance(observation_space, spaces.Dict) or "instruction" not in observation_space.spaces:
        raise ModalityError(
            f"rlft policies need a Dict observation with an 'instruction'; got {observation_space}. "
            "Pass the raw rlft environment's spaces (not an SB3-wrapped env)."
        )
    obs = observation_space.spaces
    if "admissible_commands" in obs:
        if not isinstance(action_space, spaces.Text):
            raise ModalityError(f"Web environments need a Text action space; got {action_space}.")
        return EnvInterface(kind="web")
    check_choice("view", view, VIEWS)
    top_down = _image_pair(obs, "colormap", "heightmap")
    camera = _image_pair(obs, "rgb", "depth")
    if view == "top_down" and top_down is None:
        raise ModalityError(
            "view='top_down' needs colormap and heightmap observations: make the env with heightmap=True."
        )
    if camera is not None or top_down is not None:
        shapes = ((PICK_PLACE_DIM,), (EE_DELTA_DIM,))
        if not (isinstance(action_space, spaces.Box) and action_space.shape in shapes):
            raise ModalityError(
                f"Tabletop policies drive Box({PICK_PLACE_DIM},) pick_place or Box({EE_DELTA_DIM},) "
                f"ee_delta actions; got {action_space}. Make the tabletop env with "
                "action_mode='pick_place' or 'ee_delta'."
            )
        dim = int(action_space.shape[0])
        state = tuple(k for k in TABLETOP_STATE_KEYS if isinstance(obs.get(k), spaces.Box))
        if top_down is not None and view != "camera":
            shape, has_depth = top_down
            depth_key = "heightmap" if has_depth else None
            return EnvInterface("tabletop", shape, has_depth, "colormap", depth_key, dim, state)
        if camera is None:
            raise ModalityError("view='camera' needs an rgb observation.")
        shape, has_depth = camera
        return EnvInterface("tabletop", shape, has_depth, "rgb", "depth" if has_depth else None, dim, state)
    raise ModalityError(
        f"Observation keys {sorted(obs)} fit neither web (admissible_commands) "
        "nor tabletop (rgb) environments."
    )
