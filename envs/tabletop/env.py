"""The thin environment layer: :class:`TabletopEnv` wires scene, task, camera and action modes together."""

from __future__ import annotations

import logging
import math
from typing import Any

import gymnasium as gym
import numpy as np
import rlft.envs.tabletop.tasks as _tasks  # noqa: F401  (imports every family into the registry)
from gymnasium import spaces
from gymnasium.utils import EzPickle
from rlft.envs.contract import check_penalty, check_split, core_info
from rlft.envs.tabletop.camera import CAMERAS, fuse_heightmap
from rlft.envs.tabletop.controller import EE_STEP_M, EE_STEP_YAW, EEDeltaExpert
from rlft.envs.tabletop.objects import SPLIT_ALIASES, WORKSPACE_X, WORKSPACE_Y, uv_to_world, world_to_uv
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.scene import PlacementError, Scene
from rlft.envs.tabletop.sim import Simulation
from rlft.envs.tabletop.tasks.base import TASKS, Task
from rlft.envs.text import clean_text, text_space
from rlft.errors import (
    ConfigError,
    check_bool,
    check_choice,
    check_int,
    strict_kwargs,
)

logger = logging.getLogger(__name__)

TEXT_LENGTH = 256
ACTION_MODES: tuple[str, ...] = ("pick_place", "ee_delta")
EE_SIM_STEPS = 8
"""ee_delta: physics steps (at 240 Hz) per action, i.e. 30 actions per simulated second."""
FUSION_RESOLUTION = 176
"""Side of the top-down render fused into the heightmap (about 4 mm per pixel on the table)."""
EE_STEPS_PER_MOVE = 40
"""ee_delta: default episode length is this many actions per pick_place step."""
STEP_KEY = "step"
"""Observation key of the episode's step index (``step_observation=True``)."""
PROPRIO_KEY = "ee_state"
"""Observation key of the cup's state (``proprioception=True``)."""


class TabletopEnv(gym.Env[dict[str, Any], np.ndarray], EzPickle):
    """Language-conditioned tabletop manipulation with a Franka Panda and a suction cup (PyBullet).

    **Observation** (``spaces.Dict``): ``instruction`` (Text), ``last_action_error`` (Text, ``""`` when the
    last action was fine), ``rgb`` (uint8 H x W x 3) and ``depth`` (float32 H x W, metres along the optical
    axis) from the ``camera``; with ``heightmap=True`` also ``heightmap`` (float32, metres above the table)
    and ``colormap`` (uint8 x 3), a top-down grid over the workspace fused from the observation camera and a
    top-down camera (row 0 = robot side, column 0 = viewer's left). Two opt-in keys tell a policy what the
    image does not show: with ``step_observation=True`` also ``step`` (int64 ``(1,)``: the number of actions
    taken so far in this episode, 0 after ``reset``), and with ``proprioception=True`` also ``ee_state``
    (float32 ``(5,)``: the cup's target position as (u, v) in the action's normalised table coordinates and
    height z in metres, its yaw / pi, and 1.0 while the cup holds an object, else 0.0).

    **Actions** (``action_mode``):

    - ``pick_place``: ``Box(-1, 1, (6,))`` = pick (u, v, yaw), place (u, v, yaw). (u, v) are normalised
      workspace coordinates as seen from above: u = -1 .. 1 runs from the viewer's left to right (world y
      in ``WORKSPACE_Y``), v = -1 .. 1 from the robot's side to the viewer's side (world x in
      ``WORKSPACE_X``); yaw = -1 .. 1 maps to -pi .. pi. The cup descends onto whatever lies at the pick
      point and takes hold if it touches a movable object; the object is carried above the scene, turned by
      place yaw - pick yaw, lowered onto the surface under the place point and released to settle by
      physics.
    - ``ee_delta``: ``Box(-1, 1, (5,))`` = dx, dy, dz (x ``EE_STEP_M`` metres), dyaw (x ``EE_STEP_YAW``
      rad) of the cup target and grip (> 0 turns suction on: it holds an object it touches; <= 0 releases).
      Each action runs ``EE_SIM_STEPS`` physics steps with the arm under joint position control.

    Invalid actions never raise: NaN/inf, a wrong shape or a non-numeric value is a no-op; values outside
    [-1, 1] are clipped. Both set ``last_action_error`` (observation and ``info``), as does a pick that finds
    nothing, an unreachable target or a clipped ee target; ``invalid_action_penalty`` is subtracted for
    no-op actions.

    **Reward**: the task's score is the fraction of its sub-goals that hold (each with documented position /
    orientation tolerances); each step's reward is the change of the score, so an episode's return is its
    final score in [0, 1].

    **Info** (after ``reset`` and every ``step``): the core keys of every rlft id
    (:data:`rlft.envs.contract.CORE_INFO_KEYS`): ``success`` (every sub-goal holds), ``is_success`` (the
    same, for Stable-Baselines3's ``Monitor`` / ``EvalCallback``), ``score`` (in [0, 1]) and
    ``last_action_error``; then ``subgoals`` (one bool each), ``task`` and ``split`` (the canonical name).

    **Termination** when every sub-goal holds; **truncation** at ``max_steps`` (per-task default). The
    registered ids also carry that default as ``spec.max_episode_steps``, so ``gym.make`` adds a
    ``TimeLimit`` at the same step (at the default length it never cuts an episode the env would go on
    with). When you change the episode length through ``gym.make`` (``max_steps``, or
    ``action_mode="ee_delta"``, whose default is ``EE_STEPS_PER_MOVE`` times longer), pass the same number
    as ``max_episode_steps`` (or ``-1``):
    ``gym.make(id, action_mode="ee_delta", max_steps=160, max_episode_steps=160)``. The env logs a warning
    (once) when an unfinished episode is reset at exactly the registered limit, the sign of such a cut.

    **Splits** (:data:`rlft.envs.contract.SPLITS`): ``train`` and ``validation`` draw the seen colours and
    shapes, ``test`` the held-out ones (CLIPort's seen / unseen; ``unseen`` is accepted as an alias of
    ``test``). Episodes come from the reset seed, so keep validation seeds apart from training seeds.

    Args:
        task: Task family key (see :data:`rlft.envs.tabletop.tasks.TASKS`).
        split: ``"train"``, ``"validation"`` or ``"test"`` (alias ``"unseen"``), see above.
        action_mode: ``"pick_place"`` or ``"ee_delta"``.
        camera: Observation camera, ``"front"`` or ``"top"``.
        image_size: (height, width) of ``rgb`` and ``depth``, integers in [16, 1024].
        heightmap: Add ``heightmap`` and ``colormap`` to the observation (a bool).
        heightmap_size: (rows, cols) of the heightmap.
        max_steps: Episode length in actions; ``None`` uses the task's default (x ``EE_STEPS_PER_MOVE``
            in ``ee_delta`` mode).
        render_mode: ``None`` or ``"rgb_array"`` (a larger 240 x 320 front view).
        invalid_action_penalty: Subtracted from the reward of a malformed (no-op) action; a finite number in
            [0, 1] (:func:`rlft.envs.contract.check_penalty`).
        step_observation: Add the ``step`` key (the step index; see above), a bool.
        proprioception: Add the ``ee_state`` key (the cup's state; see above), a bool.

    Every keyword argument is validated: a wrong type or value, or an unknown name, raises
    :class:`~rlft.errors.ConfigError` (with a did-you-mean for misspelt names); an unknown task raises
    :class:`~rlft.errors.UnknownNameError`.

    Version history: v0 (initial release). Later in v0, without changing any episode: ``split`` accepts
    ``validation`` and ``test`` (``unseen`` stays as an alias of ``test``) and ``info["split"]`` reports the
    canonical name; ``invalid_action_penalty`` is bounded to [0, 1] (it was unbounded above);
    ``info["is_success"]`` was added; unknown or ill-typed kwargs raise ``ConfigError`` (an unknown one was a
    ``TypeError``, a non-bool ``heightmap`` was accepted); the registered ids set ``max_episode_steps``
    (so through ``gym.make`` a longer ``max_steps`` or ``ee_delta`` also needs ``max_episode_steps``).
    The opt-in ``step_observation`` and ``proprioception`` kwargs were added (both off by default: the
    default observation and every episode are unchanged).

    """

    # Annotated like gym.Env's (an instance variable there): the type checker rejects a ClassVar override.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}
    action_space: spaces.Box
    observation_space: spaces.Dict

    @strict_kwargs
    def __init__(
        self,
        task: str = "put_block_in_bowl",
        split: str = "train",
        action_mode: str = "pick_place",
        camera: str = "front",
        image_size: tuple[int, int] = (96, 96),
        heightmap: bool = False,
        heightmap_size: tuple[int, int] = (64, 96),
        max_steps: int | None = None,
        render_mode: str | None = None,
        invalid_action_penalty: float = 0.0,
        step_observation: bool = False,
        proprioception: bool = False,
    ) -> None:
        task_class = TASKS.get(task)  # UnknownNameError with a did-you-mean for an unknown task
        self.task_key = task
        self.split = check_split(split, SPLIT_ALIASES)
        self.task: Task = task_class(self.split)
        self.action_mode = check_choice("action_mode", action_mode, ACTION_MODES)
        self.camera_name = check_choice("camera", camera, CAMERAS)
        self.camera = CAMERAS[camera]
        self.image_size = self._check_size("image_size", image_size)
        self.use_heightmap = check_bool("heightmap", heightmap)
        self.heightmap_size = self._check_size("heightmap_size", heightmap_size)
        default_steps = self.task.max_steps * (EE_STEPS_PER_MOVE if action_mode == "ee_delta" else 1)
        self.max_steps = default_steps if max_steps is None else check_int("max_steps", max_steps)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.invalid_action_penalty = check_penalty(invalid_action_penalty)
        self.step_observation = check_bool("step_observation", step_observation)
        self.proprioception = check_bool("proprioception", proprioception)
        # Pickling re-creates the env from its (validated) arguments, as Gymnasium's own envs do: the
        # physics client cannot be pickled, and an unpickled env is reset before use anyway.
        EzPickle.__init__(
            self,
            task=task,
            split=self.split,
            action_mode=action_mode,
            camera=camera,
            image_size=self.image_size,
            heightmap=heightmap,
            heightmap_size=self.heightmap_size,
            max_steps=max_steps,
            render_mode=render_mode,
            invalid_action_penalty=self.invalid_action_penalty,
            step_observation=step_observation,
            proprioception=proprioception,
        )

        h, w = self.image_size
        obs: dict[str, spaces.Space] = {
            "instruction": text_space(TEXT_LENGTH),
            "last_action_error": text_space(TEXT_LENGTH),
            "rgb": spaces.Box(0, 255, (h, w, 3), np.uint8),
            "depth": spaces.Box(0.0, self.camera.far, (h, w), np.float32),
        }
        if self.use_heightmap:
            rows, cols = self.heightmap_size
            obs["heightmap"] = spaces.Box(0.0, 2.0, (rows, cols), np.float32)
            obs["colormap"] = spaces.Box(0, 255, (rows, cols, 3), np.uint8)
        if self.step_observation:
            obs[STEP_KEY] = spaces.Box(0, self.max_steps, (1,), np.int64)
        if self.proprioception:
            obs[PROPRIO_KEY] = spaces.Box(-np.inf, np.inf, (5,), np.float32)
        self.observation_space = spaces.Dict(obs)
        size = 6 if self.action_mode == "pick_place" else 5
        self.action_space = spaces.Box(-1.0, 1.0, (size,), np.float32)

        self.sim = Simulation()
        self.scene = Scene(self.sim)
        self._ee_expert = EEDeltaExpert()
        self.instruction = ""
        self._last_error = ""
        self._score = 0.0
        self._steps = 0
        self._was_reset = False
        self._ended = False
        self._closed = False
        self._warned_time_limit = False

    @staticmethod
    def _check_size(kwarg: str, size: object) -> tuple[int, int]:
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and 16 <= s <= 1024 for s in size)
        ):
            raise ConfigError(f"{kwarg}={size!r} is not valid: pass (height, width), integers in [16, 1024].")
        return int(size[0]), int(size[1])

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode: new objects, colours and instruction drawn from ``self.np_random``."""
        self._warn_if_cut_by_time_limit()
        super().reset(seed=seed)
        for attempt in range(20):
            self.scene.clear()
            try:
                self.instruction = self.task.build(self.scene, self.np_random)
                break
            except PlacementError:
                # Rare crowded layouts: draw again (from the same generator, so it stays deterministic).
                logger.debug("layout attempt %d failed, drawing again", attempt)
        else:  # pragma: no cover - needs 20 crowded layouts in a row
            raise PlacementError(f"task {self.task_key!r} could not place its objects in 20 attempts")
        self._ee_expert.reset()
        self._steps = 0
        self._score = self.task.score(self.scene)
        self._last_error = ""
        self._was_reset = True
        self._ended = False
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Apply one action (see the class docstring); malformed actions are no-ops, never exceptions."""
        if not self._was_reset:
            raise gym.error.ResetNeeded("call reset() before the first step()")
        self._steps += 1
        vector, error = self._parse(action)
        penalty = 0.0
        if vector is None:
            penalty = self.invalid_action_penalty
        elif self.action_mode == "pick_place":
            error = self._pick_place(vector) or error
        else:
            error = self._ee_delta(vector) or error
        self._last_error = error
        score = self.task.score(self.scene)
        reward = score - self._score - penalty
        self._score = score
        terminated = score >= 1.0
        truncated = not terminated and self._steps >= self.max_steps
        self._ended = terminated or truncated
        return self._observation(), float(reward), terminated, truncated, self._info()

    def render(self) -> np.ndarray | None:
        """Return a 240 x 320 front view (``render_mode="rgb_array"``), else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        view, proj = CAMERAS["front"].gl_matrices(320, 240)
        return self.sim.render(320, 240, view, proj)[0]

    def close(self) -> None:
        """Release the physics client (safe to call more than once)."""
        if not self._closed:
            self._closed = True
            self.sim.close()

    # ------------------------------------------------------------------ experts
    def expert_action(self) -> np.ndarray:
        """Return the privileged expert's next action in the current action mode's space.

        ``pick_place``: the task's planner from the true state. ``ee_delta``: a scripted servo controller that
        follows the same plan through approach, descent, suction, lift, transport and release. After the
        episode ends the pick_place action picks and places at the same point (the centre), and the ee_delta
        action lifts the cup to a safe height with suction off.
        """
        plan = self.task.expert(self.scene) if self._was_reset and not self._ended else None
        if self.action_mode == "pick_place":
            if plan is None:
                return np.zeros(6, dtype=np.float32)
            return plan_to_action(plan)
        return self._ee_expert.act(self.scene, plan)

    # ------------------------------------------------------------------ internals
    def _warn_if_cut_by_time_limit(self) -> None:
        """Say so (once) when ``gym.make``'s ``TimeLimit`` ended an episode this env would have continued.

        ``TimeLimit`` truncates at the registered ``max_episode_steps`` (the default episode length) and
        cannot see ``max_steps`` / ``action_mode``; an unfinished episode reset at exactly that step is the
        sign of it.
        """
        if self._warned_time_limit or not self._was_reset or self._ended or self.spec is None:
            return
        registered = gym.registry.get(self.spec.id)
        limit = registered.max_episode_steps if registered is not None else None
        if limit is not None and self._steps == limit < self.max_steps:
            self._warned_time_limit = True
            logger.warning(
                "%s: an episode was reset at step %d, the registered max_episode_steps, before this env's "
                "max_steps=%d. If Gymnasium's TimeLimit cut it, pass max_episode_steps=%d to gym.make too.",
                self.spec.id,
                limit,
                self.max_steps,
                self.max_steps,
            )

    def _parse(self, action: Any) -> tuple[np.ndarray | None, str]:
        size = self.action_space.shape[0]
        try:
            vector = np.asarray(action, dtype=np.float64)
        except Exception:  # any malformed agent input is an observation, never a crash
            return None, f"invalid action: expected {size} numbers in [-1, 1], got {type(action).__name__}"
        if vector.shape != (size,):
            return None, f"invalid action: expected shape ({size},), got {vector.shape}"
        if not np.all(np.isfinite(vector)):
            return None, "invalid action: NaN or infinite values"
        if np.any(np.abs(vector) > 1.0):
            return np.clip(vector, -1.0, 1.0), "action outside [-1, 1]: clipped"
        return vector, ""

    def _pick_place(self, a: np.ndarray) -> str:
        robot = self.scene.robot
        pick_xy, place_xy = uv_to_world(a[0], a[1]), uv_to_world(a[3], a[4])
        result = robot.pick(pick_xy, a[2] * math.pi, self.scene.movable)
        if not result.ok:
            return result.error
        held = next(o for o in self.scene.objects if o.body == result.body)
        placed = robot.place(place_xy, a[5] * math.pi, held.spec.half_extents)
        self.scene.settle()
        return placed.error

    def _ee_delta(self, a: np.ndarray) -> str:
        lo = (WORKSPACE_X[0] - 0.12, WORKSPACE_Y[0] - 0.05, 0.0)
        hi = (WORKSPACE_X[1] + 0.05, WORKSPACE_Y[1] + 0.05, 0.35)
        delta = np.concatenate([a[:3] * EE_STEP_M, [a[3] * EE_STEP_YAW]])
        return self.scene.robot.servo(delta, bool(a[4] > 0), self.scene.movable, (lo, hi), EE_SIM_STEPS)

    def _observation(self) -> dict[str, Any]:
        h, w = self.image_size
        view, proj = self.camera.gl_matrices(w, h)
        rgb, buffer = self.sim.render(w, h, view, proj)
        depth = self.camera.depth_from_buffer(buffer)
        obs: dict[str, Any] = {
            "instruction": clean_text(self.instruction, TEXT_LENGTH),
            "last_action_error": clean_text(self._last_error, TEXT_LENGTH),
            "rgb": rgb,
            "depth": depth,
        }
        if self.use_heightmap:
            # The top-down view is rendered finer than the heightmap cells so every cell receives points.
            top = CAMERAS["top"]
            res = FUSION_RESOLUTION
            tv, tp = top.gl_matrices(res, res)
            trgb, tbuf = self.sim.render(res, res, tv, tp)
            clouds = [(self.camera.points(depth), rgb), (top.points(top.depth_from_buffer(tbuf)), trgb)]
            hm, cm = fuse_heightmap(clouds, WORKSPACE_X, WORKSPACE_Y, self.heightmap_size)
            obs["heightmap"] = np.minimum(hm, 2.0)
            obs["colormap"] = cm
        if self.step_observation:
            obs[STEP_KEY] = np.array([min(self._steps, self.max_steps)], dtype=np.int64)
        if self.proprioception:
            obs[PROPRIO_KEY] = self._ee_state()
        return obs

    def _ee_state(self) -> np.ndarray:
        robot = self.scene.robot
        u, v = world_to_uv(robot.target_pos[:2])
        held = 1.0 if robot.held is not None else 0.0
        return np.array([u, v, robot.target_pos[2], robot.target_yaw / math.pi, held], dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        goals = self.task.subgoals(self.scene)
        return core_info(
            success=all(goals),
            score=self._score,
            last_action_error=self._last_error,
            subgoals=[bool(g) for g in goals],
            task=self.task_key,
            split=self.split,
        )


def plan_to_action(plan: Plan) -> np.ndarray:
    """Express a world-coordinate :class:`Plan` as a normalised ``pick_place`` action."""
    pu, pv = world_to_uv(np.asarray(plan.pick_xy))
    qu, qv = world_to_uv(np.asarray(plan.place_xy))
    action = np.array([pu, pv, plan.pick_yaw / math.pi, qu, qv, plan.place_yaw / math.pi])
    return np.clip(action, -1.0, 1.0).astype(np.float32)
