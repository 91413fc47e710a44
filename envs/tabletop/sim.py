"""The simulation layer: the only module of rlft that imports pybullet.

:class:`Simulation` owns one DIRECT-mode physics client (never pybullet's global default client), so
several environments live side by side in one process. Everything above this layer (robot, scene, tasks,
env) talks to pybullet only through this class, in plain numpy and tuples.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rlft.errors import require

pb = require("pybullet", "the tabletop environments")
pybullet_data = require("pybullet_data", "the tabletop environments")

logger = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Vector = Sequence[float] | np.ndarray
"""A vector of floats: a tuple, a list or a 1-D numpy array (pybullet takes any of them)."""


@dataclass(frozen=True)
class Shape:
    """One primitive of a procedural body (bodies may be compounds of several).

    Attributes:
        kind: ``"box"`` (``size`` = half extents), ``"cylinder"`` (``size`` = radius, height) or
            ``"mesh"`` (``vertices`` = convex hull points; ``indices`` = triangles for the visual).
        size: Dimensions, see ``kind``.
        position: Offset of the primitive in the body frame.
        orientation: Orientation (quaternion x, y, z, w) of the primitive in the body frame.
        vertices: Mesh vertices (``kind="mesh"`` only).
        indices: Mesh triangle indices (``kind="mesh"`` only).

    """

    kind: str
    size: tuple[float, ...] = ()
    position: Vec3 = (0.0, 0.0, 0.0)
    orientation: Quat = (0.0, 0.0, 0.0, 1.0)
    vertices: tuple[Vec3, ...] = ()
    indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class RayHit:
    """The first body a ray hits (``body == -1``: nothing)."""

    body: int
    position: Vec3
    fraction: float


class Simulation:
    """A PyBullet physics client in DIRECT mode with the operations the tabletop layers need.

    Args:
        timestep: Physics step in seconds.
        solver_iterations: Constraint solver iterations per step.

    """

    def __init__(self, timestep: float = 1.0 / 240.0, solver_iterations: int = 50) -> None:
        self.timestep = timestep
        self.client = pb.connect(pb.DIRECT)
        self._cid = {"physicsClientId": self.client}
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), **self._cid)
        pb.setGravity(0.0, 0.0, -9.81, **self._cid)
        # deterministicOverlappingPairs sorts broadphase pairs, so the contact order (and thus the result)
        # does not depend on which body ids earlier episodes left behind.
        pb.setPhysicsEngineParameter(
            fixedTimeStep=timestep,
            numSolverIterations=solver_iterations,
            deterministicOverlappingPairs=1,
            **self._cid,
        )
        # Procedural shapes are cached: pybullet never frees collision shapes, so recreating them on every
        # reset would leak memory and slow construction.
        self._collision_cache: dict[tuple[Shape, ...], int] = {}
        self._visual_cache: dict[tuple[tuple[Shape, ...], tuple[float, ...]], int] = {}
        self.steps_taken = 0
        self._closed = False

    # ------------------------------------------------------------------ bodies
    def load_urdf(
        self, path: str, position: Vec3, orientation: Quat = (0, 0, 0, 1), fixed: bool = True
    ) -> int:
        """Load a URDF from ``pybullet_data`` (bundled with pybullet; nothing is fetched)."""
        return pb.loadURDF(
            path,
            position,
            orientation,
            useFixedBase=fixed,
            flags=pb.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
            **self._cid,
        )

    @staticmethod
    def data_path() -> str:
        """Folder of the assets bundled with pybullet (``pybullet_data``)."""
        return pybullet_data.getDataPath()

    def set_color(self, body: int, link: int, rgba: Sequence[float]) -> None:
        """Colour one link's visual shape."""
        pb.changeVisualShape(body, link, rgbaColor=list(rgba), **self._cid)

    def create_body(
        self,
        shapes: Sequence[Shape],
        color: Sequence[float],
        position: Vec3,
        orientation: Quat = (0.0, 0.0, 0.0, 1.0),
        mass: float = 0.0,
        lateral_friction: float = 0.8,
    ) -> int:
        """Create a (possibly compound) body from primitives; ``mass=0`` makes it static."""
        key = tuple(shapes)
        rgba = tuple(float(c) for c in color)
        collision = self._collision_cache.get(key)
        if collision is None:
            collision = self._make_shape_array(key, visual=False, rgba=rgba)
            self._collision_cache[key] = collision
        visual = self._visual_cache.get((key, rgba))
        if visual is None:
            visual = self._make_shape_array(key, visual=True, rgba=rgba)
            self._visual_cache[(key, rgba)] = visual
        body = pb.createMultiBody(
            baseMass=mass,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            basePosition=position,
            baseOrientation=orientation,
            **self._cid,
        )
        pb.changeDynamics(
            body,
            -1,
            lateralFriction=lateral_friction,
            spinningFriction=0.001,
            rollingFriction=0.0001,
            restitution=0.0,
            **self._cid,
        )
        return body

    def _make_shape_array(self, shapes: tuple[Shape, ...], visual: bool, rgba: tuple[float, ...]) -> int:
        if len(shapes) == 1 and shapes[0].kind == "mesh":
            # Meshes go through the single-shape call: the array call does not take vertices.
            shape = shapes[0]
            if visual:
                return pb.createVisualShape(
                    pb.GEOM_MESH,
                    vertices=[list(v) for v in shape.vertices],
                    indices=list(shape.indices),
                    rgbaColor=rgba,
                    visualFramePosition=shape.position,
                    **self._cid,
                )
            return pb.createCollisionShape(
                pb.GEOM_MESH,
                vertices=[list(v) for v in shape.vertices],
                collisionFramePosition=shape.position,
                **self._cid,
            )
        types, half_extents, radii, lengths = [], [], [], []
        for shape in shapes:
            if shape.kind == "box":
                types.append(pb.GEOM_BOX)
                half_extents.append(list(shape.size))
                radii.append(0.0)
                lengths.append(0.0)
            elif shape.kind == "cylinder":
                types.append(pb.GEOM_CYLINDER)
                half_extents.append([0.0, 0.0, 0.0])
                radii.append(shape.size[0])
                lengths.append(shape.size[1])
            else:
                raise ValueError(f"shape kind {shape.kind!r} cannot be part of a compound body")
        positions = [list(s.position) for s in shapes]
        orientations = [list(s.orientation) for s in shapes]
        if visual:
            return pb.createVisualShapeArray(
                shapeTypes=types,
                halfExtents=half_extents,
                radii=radii,
                lengths=lengths,
                rgbaColors=[list(rgba)] * len(shapes),
                visualFramePositions=positions,
                visualFrameOrientations=orientations,
                **self._cid,
            )
        return pb.createCollisionShapeArray(
            shapeTypes=types,
            halfExtents=half_extents,
            radii=radii,
            lengths=lengths,
            collisionFramePositions=positions,
            collisionFrameOrientations=orientations,
            **self._cid,
        )

    def remove_body(self, body: int) -> None:
        """Remove a body from the world."""
        pb.removeBody(body, **self._cid)

    def pose(self, body: int) -> tuple[np.ndarray, Quat]:
        """Return the base position (array) and orientation (quaternion) of a body."""
        pos, orn = pb.getBasePositionAndOrientation(body, **self._cid)
        return np.asarray(pos, dtype=np.float64), orn

    def set_pose(self, body: int, position: Vector, orientation: Vector) -> None:
        """Teleport a body and zero its velocity."""
        pb.resetBasePositionAndOrientation(body, list(position), list(orientation), **self._cid)
        pb.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0], **self._cid)

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> None:
        """Advance the physics ``n`` fixed steps."""
        for _ in range(n):
            pb.stepSimulation(**self._cid)
        self.steps_taken += n

    def settle(
        self, bodies: Sequence[int], max_steps: int = 240, check_every: int = 8, tolerance: float = 0.01
    ) -> int:
        """Step until every body in ``bodies`` is (almost) still, at most ``max_steps``; return steps run.

        Only as much physics runs as the scene needs: a resting scene costs ``2 * check_every`` steps.
        """
        done, still_checks = 0, 0
        while done < max_steps:
            self.step(check_every)
            done += check_every
            still = True
            for body in bodies:
                lin, ang = pb.getBaseVelocity(body, **self._cid)
                if max(abs(v) for v in lin) > tolerance or max(abs(w) for w in ang) > 10 * tolerance:
                    still = False
                    break
            # Two still checks in a row: a slowly starting topple is not mistaken for rest.
            still_checks = still_checks + 1 if still else 0
            if still_checks >= 2:
                break
        return done

    # ------------------------------------------------------------------ joints and kinematics
    def num_joints(self, body: int) -> int:
        """Return the number of joints of a multibody."""
        return pb.getNumJoints(body, **self._cid)

    def joint_info(self, body: int, joint: int) -> tuple[str, int, float, float]:
        """(name, type, lower limit, upper limit) of a joint; type 0 = revolute, 1 = prismatic, 4 = fixed."""
        info = pb.getJointInfo(body, joint, **self._cid)
        return info[1].decode(), int(info[2]), float(info[8]), float(info[9])

    def reset_joints(self, body: int, joints: Sequence[int], positions: Sequence[float]) -> None:
        """Teleport joints to positions with zero velocity, and hold them there with the motors."""
        for joint, q in zip(joints, positions, strict=True):
            pb.resetJointState(body, joint, float(q), 0.0, **self._cid)
        self.set_joint_targets(body, joints, positions)

    def set_joint_targets(
        self, body: int, joints: Sequence[int], positions: Sequence[float], force: float = 240.0
    ) -> None:
        """Position-control targets for the joint motors."""
        pb.setJointMotorControlArray(
            body,
            list(joints),
            pb.POSITION_CONTROL,
            targetPositions=[float(q) for q in positions],
            forces=[force] * len(joints),
            positionGains=[0.3] * len(joints),
            **self._cid,
        )

    def link_pose(self, body: int, link: int) -> tuple[np.ndarray, Quat]:
        """World pose of a link frame (forward kinematics of the current joint state)."""
        state = pb.getLinkState(body, link, computeForwardKinematics=True, **self._cid)
        return np.asarray(state[4]), state[5]

    def inverse_kinematics(
        self,
        body: int,
        link: int,
        position: Vector,
        orientation: Vector,
        iterations: int = 100,
    ) -> list[float]:
        """Joint positions (all movable joints) putting ``link`` at the pose: pybullet's damped least squares.

        The search starts from the current joint state.
        """
        return list(
            pb.calculateInverseKinematics(
                body,
                link,
                list(position),
                list(orientation),
                maxNumIterations=iterations,
                residualThreshold=1e-5,
                **self._cid,
            )
        )

    # ------------------------------------------------------------------ constraints and contact
    def fix_to_link(
        self,
        parent: int,
        link: int,
        child: int,
        parent_frame: tuple[Vec3, Quat],
        child_frame: tuple[Vec3, Quat],
    ) -> int:
        """Create a fixed constraint holding ``child`` to ``parent``'s ``link``; return its id."""
        cid = pb.createConstraint(
            parent,
            link,
            child,
            -1,
            pb.JOINT_FIXED,
            [0, 0, 0],
            parent_frame[0],
            child_frame[0],
            parent_frame[1],
            child_frame[1],
            **self._cid,
        )
        pb.changeConstraint(cid, maxForce=200.0, **self._cid)
        return cid

    def remove_constraint(self, constraint: int) -> None:
        """Remove a constraint."""
        pb.removeConstraint(constraint, **self._cid)

    def closest_distance(self, body_a: int, link_a: int, body_b: int, max_distance: float) -> float | None:
        """Smallest distance between a link of ``body_a`` and ``body_b`` if below ``max_distance``."""
        points = pb.getClosestPoints(body_a, body_b, max_distance, linkIndexA=link_a, **self._cid)
        if not points:
            return None
        return min(p[8] for p in points)

    def ray_batch(self, starts: Sequence[Sequence[float]], ends: Sequence[Sequence[float]]) -> list[RayHit]:
        """Cast rays and return the first hit of each."""
        results = pb.rayTestBatch([list(s) for s in starts], [list(e) for e in ends], **self._cid)
        return [RayHit(int(r[0]), tuple(r[3]), float(r[2])) for r in results]

    # ------------------------------------------------------------------ rendering
    def render(
        self, width: int, height: int, view: Sequence[float], projection: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Render RGB (uint8 HxWx3) and the raw OpenGL depth buffer (float32 HxW) with TinyRenderer."""
        _, _, rgba, depth, _ = pb.getCameraImage(
            width,
            height,
            viewMatrix=list(view),
            projectionMatrix=list(projection),
            renderer=pb.ER_TINY_RENDERER,
            flags=pb.ER_NO_SEGMENTATION_MASK,
            shadow=0,
            **self._cid,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]
        return np.ascontiguousarray(rgb), np.asarray(depth, dtype=np.float32).reshape(height, width)

    # ------------------------------------------------------------------ state
    def save_state(self) -> int:
        """Snapshot the dynamic state in memory; return its id."""
        return pb.saveState(**self._cid)

    def restore_state(self, state: int) -> None:
        """Restore a snapshot from :meth:`save_state` (same bodies must exist)."""
        pb.restoreState(stateId=state, **self._cid)

    def close(self) -> None:
        """Disconnect the client (safe to call twice)."""
        if not self._closed:
            self._closed = True
            try:
                pb.disconnect(**self._cid)
            except pb.error:  # already disconnected, e.g. at interpreter shutdown
                logger.debug("pybullet client %d was already disconnected", self.client)

    def __del__(self) -> None:
        # At interpreter shutdown the pybullet module may already be torn down; nothing is left to free then.
        with contextlib.suppress(Exception):
            self.close()
