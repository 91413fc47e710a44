"""The ``ee_delta`` expert: a scripted servo controller that executes the task planner's moves.

It turns each :class:`~rlft.envs.tabletop.plan.Plan` into cup motions through the phases approach
(at a safe height), descend with suction on, lift, transport, lower onto the support surface and release,
all as small ``ee_delta`` actions, so the physics carries the object through the constraint.
"""

from __future__ import annotations

import numpy as np
from rlft.envs.tabletop.objects import wrap_angle
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.robot import PandaSuction
from rlft.envs.tabletop.scene import Scene

EE_STEP_M = 0.025
"""ee_delta: metres of cup motion per unit of dx, dy, dz."""
EE_STEP_YAW = 0.25
"""ee_delta: radians of cup rotation per unit of dyaw."""
SAFE_HEIGHT = 0.2
"""Cup height for transport (above any stack the tasks build)."""
LOW = SAFE_HEIGHT - 0.04
"""Below this the cup climbs straight up before travelling sideways."""
XY_TOLERANCE = 0.006
"""How close (metres) the cup or the held object must be above its goal before going down."""


def servo_action(
    robot: PandaSuction, target: tuple[float, ...], yaw: float | None, grip: float
) -> np.ndarray:
    """The ee_delta action moving the cup target towards ``target`` (and ``yaw``; ``None`` keeps it)."""
    delta = (np.asarray(target, dtype=np.float64) - robot.target_pos) / EE_STEP_M
    dyaw = 0.0 if yaw is None else wrap_angle(yaw - robot.target_yaw) / EE_STEP_YAW
    return np.concatenate([np.clip(delta, -1, 1), [np.clip(dyaw, -1, 1), grip]]).astype(np.float32)


class EEDeltaExpert:
    """Scripted ``ee_delta`` controller following the task expert's plan (privileged state)."""

    def __init__(self) -> None:
        self._plan: Plan | None = None

    def reset(self) -> None:
        """Forget the move in progress (new episode)."""
        self._plan = None

    def act(self, scene: Scene, plan: Plan | None) -> np.ndarray:
        """Return the next action (dx, dy, dz, dyaw, grip) in [-1, 1]^5 for the planner's current ``plan``."""
        robot = scene.robot
        tip = robot.tip_pose()[0]
        if robot.held is None:
            self._plan = plan  # re-planned while empty-handed; kept fixed while carrying
            return self._pick(robot, tip, plan)
        if self._plan is None:  # holding something the planner did not choose: put it down here
            return servo_action(robot, (tip[0], tip[1], 0.0), None, grip=-1)
        return self._place(scene, robot, tip, self._plan)

    @staticmethod
    def _pick(robot: PandaSuction, tip: np.ndarray, plan: Plan | None) -> np.ndarray:
        if plan is None:
            return servo_action(robot, (tip[0], tip[1], SAFE_HEIGHT), None, grip=-1)
        goal = np.asarray(plan.pick_xy)
        if np.linalg.norm(tip[:2] - goal) > XY_TOLERANCE:
            if tip[2] < LOW:
                # Climb straight up first, without turning: the cup may still touch what it just released.
                return servo_action(robot, (tip[0], tip[1], SAFE_HEIGHT), None, grip=-1)
            return servo_action(robot, (goal[0], goal[1], SAFE_HEIGHT), plan.pick_yaw, grip=-1)
        _, surface = robot.surface_below(goal, top=tip[2] - 0.01)
        # Descend with suction on; it takes hold as soon as the fingertips touch the object.
        return servo_action(robot, (goal[0], goal[1], surface - 0.01), plan.pick_yaw, grip=1)

    @staticmethod
    def _place(scene: Scene, robot: PandaSuction, tip: np.ndarray, plan: Plan) -> np.ndarray:
        goal = np.asarray(plan.place_xy)
        held = next(o for o in scene.objects if o.body == robot.held)
        obj = scene.position(held)
        off_goal = float(np.linalg.norm(obj[:2] - goal))
        if off_goal > XY_TOLERANCE or abs(wrap_angle(robot.target_yaw - plan.place_yaw)) > 0.02:
            if tip[2] < LOW and off_goal > 0.03:
                return servo_action(robot, (tip[0], tip[1], SAFE_HEIGHT), plan.place_yaw, grip=1)
            # Aim the cup so that the object (not the cup) ends above the goal.
            aim = goal - (obj[:2] - tip[:2])
            return servo_action(robot, (aim[0], aim[1], SAFE_HEIGHT), plan.place_yaw, grip=1)
        bottom = obj[2] - held.spec.half_extents[2]
        gap = bottom - robot.support_below(held.spec.half_extents, obj[:2], scene.yaw(held), bottom)
        if gap < 0.006:
            return np.array([0, 0, 0, 0, -1], dtype=np.float32)  # resting on its support: let go
        return servo_action(robot, (tip[0], tip[1], tip[2] - gap), plan.place_yaw, grip=1)
