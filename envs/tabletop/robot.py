"""The robot layer: a Franka Panda (from ``pybullet_data``) with a suction cup at its closed fingertips.

The suction cup holds an object through a fixed constraint that is only made when the collision engine
reports contact (within :attr:`PandaSuction.contact_distance`) between the fingertips and the object.
Two ways to move:

- :meth:`PandaSuction.pick` / :meth:`PandaSuction.place`: scripted motion primitives for the ``pick_place``
  action mode. Each waypoint is solved with inverse kinematics and the arm is moved kinematically (joint
  reset), so the carried object travels above the scene without knocking it over; the grasp needs real
  contact, the place height comes from ray casts under the object's footprint, and the released object
  settles under physics.
- :meth:`PandaSuction.servo`: one physical control step for the ``ee_delta`` mode (IK to joint motor
  targets, then physics steps; objects are pushed and carried dynamically).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rlft.envs.tabletop.sim import Simulation, Vec3, Vector
from rlft.envs.tabletop.transforms import Pose, down_quat, pose_inverse, pose_multiply, yaw_of
from rlft.errors import atomic_write_text


def light_panda_urdf(data_path: str) -> str:
    """Write (once) a copy of pybullet_data's Panda URDF whose links are drawn with the collision meshes.

    The visual meshes have about 20x more triangles; with them, drawing the arm dominates every
    observation render of the TinyRenderer (about 55 of 65 ms at 128 x 128 here). Geometry, inertia and
    collision are unchanged. Returns the path of the copy (in the temp folder, keyed by content).
    """
    source = Path(data_path) / "franka_panda" / "panda.urdf"
    text = source.read_text()
    meshes = (source.parent / "meshes").as_posix()
    text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    text = text.replace("package://meshes/", meshes + "/")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"rlft_panda_{digest}.urdf"
    if not target.exists():
        atomic_write_text(target, text)  # concurrent processes never read a half-written file
    return str(target)


ARM_COLOR = (0.93, 0.93, 0.95, 1.0)
HAND_COLOR = (0.25, 0.25, 0.28, 1.0)


@dataclass
class MotionResult:
    """What a motion primitive achieved.

    Attributes:
        ok: The primitive did what was asked.
        error: Why not, in words (``""`` when ``ok``).
        body: The object picked (pick) or released (place), if any.

    """

    ok: bool
    error: str = ""
    body: int | None = None


class PandaSuction:
    """Franka Panda arm with a suction cup; the cup is the ``panda_grasptarget`` frame of the closed hand.

    Args:
        sim: The simulation to load into.
        base: Position of the robot base.

    """

    ARM: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    FINGERS: tuple[int, ...] = (9, 10)
    CONTACT_LINKS: tuple[int, ...] = (8, 9, 10)
    TIP = 11
    # Arm folded up and back, out of the top camera's view of the workspace.
    HOME: tuple[float, ...] = (0.0, -1.2, 0.0, -2.9, 0.0, 1.75, 0.785)
    # Rest pose biasing IK towards an elbow-up, wrist-down solution.
    REST: tuple[float, ...] = (0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785)
    contact_distance = 0.008
    """Max fingertip-object distance (metres) at which the suction cup takes hold."""
    reach_tolerance = 0.012
    """IK position error (metres) above which a waypoint counts as unreachable."""
    carry_height = 0.3
    """Tip height for transport in the pick_place primitives."""

    def __init__(self, sim: Simulation, base: Vec3 = (0.0, 0.0, 0.0)) -> None:
        self.sim = sim
        self.body = sim.load_urdf(light_panda_urdf(sim.data_path()), base)
        for link in range(-1, sim.num_joints(self.body)):
            sim.set_color(self.body, link, HAND_COLOR if link >= 7 else ARM_COLOR)
        self._joints = list(self.ARM) + list(self.FINGERS)
        self.lower = [sim.joint_info(self.body, j)[2] for j in self.ARM]
        self.upper = [sim.joint_info(self.body, j)[3] for j in self.ARM]
        self.held: int | None = None
        self._constraint: int | None = None
        self._grasp_offset: Pose | None = None
        self.target_pos = np.zeros(3)
        self.target_yaw = 0.0
        self.go_home()

    # ------------------------------------------------------------------ state
    def go_home(self) -> None:
        """Teleport to the home pose (drops nothing: call :meth:`release` first)."""
        self._set_arm(self.HOME)
        self.target_pos, quat = self.sim.link_pose(self.body, self.TIP)
        self.target_yaw = yaw_of(quat)

    def _set_arm(self, q: Vector) -> None:
        self.sim.reset_joints(self.body, self._joints, [*q, 0.0, 0.0])
        self._carry()

    def tip_pose(self) -> Pose:
        """World pose of the suction cup."""
        pos, quat = self.sim.link_pose(self.body, self.TIP)
        return pos, np.asarray(quat)

    def solve(self, position: Vector, yaw: float, rounds: int = 3) -> tuple[list[float], float]:
        """IK for the cup at ``position`` pointing down with ``yaw``; returns (arm joints, position error).

        Leaves the arm at the solution (the caller resets or keeps it).
        """
        target = np.asarray(position, dtype=np.float64)
        quat = down_quat(yaw)
        q: list[float] = list(self.REST)
        error = math.inf
        self.sim.reset_joints(self.body, self._joints, [*self.REST, 0.0, 0.0])
        for _ in range(rounds):
            # Plain damped least squares converges best here; limits are enforced by clipping below.
            solution = self.sim.inverse_kinematics(self.body, self.TIP, target, quat, iterations=100)
            q = list(np.clip(solution[: len(self.ARM)], self.lower, self.upper))
            self.sim.reset_joints(self.body, self._joints, [*q, 0.0, 0.0])
            error = float(np.linalg.norm(self.sim.link_pose(self.body, self.TIP)[0] - target))
            if error < 0.002:
                break
        return q, error

    def move_kinematic(self, position: Vector, yaw: float) -> float:
        """Teleport the cup to a pose (as close as IK gets); the held object follows. Returns the error."""
        q, error = self.solve(position, yaw)
        self._set_arm(q)
        self.target_pos, self.target_yaw = np.asarray(position, dtype=np.float64), yaw
        return error

    def _carry(self) -> None:
        if self.held is not None and self._grasp_offset is not None:
            pos, quat = pose_multiply(self.tip_pose(), self._grasp_offset)
            self.sim.set_pose(self.held, pos, quat)

    # ------------------------------------------------------------------ suction
    def touching(self, candidates: Sequence[int]) -> int | None:
        """Return the first candidate body within suction contact distance of the fingertips, if any."""
        for body in candidates:
            for link in self.CONTACT_LINKS:
                if self.sim.closest_distance(self.body, link, body, self.contact_distance) is not None:
                    return body
        return None

    def attach(self, body: int) -> None:
        """Hold ``body`` by a fixed constraint at its current pose relative to the cup."""
        tip = self.tip_pose()
        obj_pos, obj_quat = self.sim.pose(body)
        self._grasp_offset = pose_multiply(pose_inverse(tip), (obj_pos, np.asarray(obj_quat)))
        self._constraint = self.sim.fix_to_link(
            self.body,
            self.TIP,
            body,
            (tuple(self._grasp_offset[0]), tuple(self._grasp_offset[1])),
            ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)),
        )
        self.held = body

    def release(self) -> int | None:
        """Let go of the held object; return it."""
        body = self.held
        if self._constraint is not None:
            self.sim.remove_constraint(self._constraint)
        self.held, self._constraint, self._grasp_offset = None, None, None
        return body

    def forget(self) -> None:
        """Drop all grasp bookkeeping without touching the simulation (its bodies were removed)."""
        self.held, self._constraint, self._grasp_offset = None, None, None

    # ------------------------------------------------------------------ pick_place primitives
    def surface_below(self, xy: Vector, top: float = 0.5) -> tuple[int, float]:
        """(body, height) of the first surface straight below ``xy``; the robot itself is ignored."""
        start, end = [xy[0], xy[1], top], [xy[0], xy[1], -0.05]
        hit = self.sim.ray_batch([start], [end])[0]
        if hit.body == self.body:  # the arm hangs over the point: look again from just below the hit
            hit = self.sim.ray_batch([[xy[0], xy[1], hit.position[2] - 0.005]], [end])[0]
        return hit.body, float(hit.position[2]) if hit.body >= 0 else 0.0

    def pick(self, xy: Vector, yaw: float, movable: Sequence[int]) -> MotionResult:
        """Lower the cup onto the surface at ``xy`` and take hold of a movable object it touches."""
        self.go_home()
        body, z = self.surface_below(xy)
        error = self.move_kinematic((xy[0], xy[1], z + 0.001), yaw)
        if error > self.reach_tolerance:
            self.go_home()
            return MotionResult(False, f"pick point out of reach (IK error {error * 100:.1f} cm)")
        grasped = self.touching([body] if body in movable else [])
        if grasped is None:
            self.go_home()
            what = (
                "no object in suction range"
                if body in movable
                else "a fixed surface (table, container or pad)"
            )
            return MotionResult(False, f"nothing to pick there: the suction cup found {what}")
        self.attach(grasped)
        self.move_kinematic((xy[0], xy[1], self.carry_height), yaw)
        return MotionResult(True, body=grasped)

    def support_below(self, half_extents: Vector, xy: Vector, yaw: float, bottom: float) -> float:
        """Height of the highest surface under an object's footprint (3 x 3 rays cast from below it).

        Args:
            half_extents: The object's half size in its own frame.
            xy: Where its centre is.
            yaw: Its yaw.
            bottom: Height of its underside; rays start just below, so they never hit the object itself.
        """
        hx, hy = half_extents[0] * 0.85, half_extents[1] * 0.85
        c, s = math.cos(yaw), math.sin(yaw)
        local = [(i * hx, j * hy) for i in (-1, 0, 1) for j in (-1, 0, 1)]
        pts = [(xy[0] + c * px - s * py, xy[1] + s * px + c * py) for px, py in local]
        hits = self.sim.ray_batch([[x, y, bottom - 0.002] for x, y in pts], [[x, y, -0.05] for x, y in pts])
        return max((h.position[2] for h in hits if h.body >= 0), default=0.0)

    def place(self, xy: Vector, yaw: float, half_extents: Vector) -> MotionResult:
        """Carry the held object above ``xy``, turn the cup to ``yaw``, lower it onto what is below, let go.

        The object comes to rest by physics after release (the caller settles the scene).
        """
        if self.held is None:
            return MotionResult(False, "nothing held")
        body = self.held
        self.move_kinematic((xy[0], xy[1], self.carry_height), yaw)
        obj_pos, obj_quat = self.sim.pose(body)
        tip_pos = self.tip_pose()[0]
        bottom = obj_pos[2] - half_extents[2]
        drop = bottom - self.support_below(half_extents, obj_pos[:2], yaw_of(obj_quat), bottom) - 0.002
        error = self.move_kinematic((tip_pos[0], tip_pos[1], tip_pos[2] - drop), yaw)
        result = MotionResult(True, body=body)
        if error > self.reach_tolerance:
            result = MotionResult(
                False, f"place point out of reach (IK error {error * 100:.1f} cm): dropped it", body=body
            )
        self.release()
        self.go_home()
        return result

    # ------------------------------------------------------------------ ee_delta control
    def servo(
        self,
        delta: Vector,
        grip: bool,
        movable: Sequence[int],
        bounds: tuple[Vector, Vector],
        sim_steps: int,
    ) -> str:
        """One physical control step: move the cup target by ``delta`` (dx, dy, dz, dyaw), then grip/release.

        Returns an error message when the target was clipped to the workspace or is out of reach.
        """
        target = self.target_pos + np.asarray(delta[:3], dtype=np.float64)
        clipped = np.clip(target, bounds[0], bounds[1])
        message = (
            "" if np.allclose(clipped, target) else "target outside the workspace: clipped to its boundary"
        )
        self.target_pos = clipped
        self.target_yaw = float(np.clip(self.target_yaw + float(delta[3]), -math.pi / 2, math.pi / 2))
        # IK seeded from the current (moving) state; the motors then drive the arm there under physics.
        solution = self.sim.inverse_kinematics(
            self.body, self.TIP, self.target_pos, down_quat(self.target_yaw)
        )
        q = np.clip(solution[: len(self.ARM)], self.lower, self.upper)
        self.sim.set_joint_targets(self.body, self._joints, [*q, 0.0, 0.0])
        self.sim.step(sim_steps)
        error = float(np.linalg.norm(self.tip_pose()[0] - self.target_pos))
        if error > 3 * self.reach_tolerance and not message:
            message = f"target out of reach (cup is {error * 100:.1f} cm from it)"
        if grip and self.held is None:
            body = self.touching(movable)
            if body is not None:
                self.attach(body)
        elif not grip and self.held is not None:
            self.release()
        return message
