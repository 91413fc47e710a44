"""The scene: a table, the robot and the task's procedural objects, with the queries tasks need.

The static part (table, robot) is built once per environment; a reset only removes the previous task's
objects and spawns new ones, which keeps resets fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rlft.envs.tabletop.objects import TABLE_COLOR, WORKSPACE_X, WORKSPACE_Y, ObjectSpec, uv_to_world
from rlft.envs.tabletop.robot import PandaSuction
from rlft.envs.tabletop.sim import Shape, Simulation, Vector
from rlft.envs.tabletop.transforms import quat_from_yaw, yaw_of


@dataclass(frozen=True)
class SceneObject:
    """An object in the scene: its body id and what it is."""

    body: int
    spec: ObjectSpec


class PlacementError(RuntimeError):
    """No free spot was found for an object (the task asked for too much clutter)."""


class Scene:
    """Table + robot + task objects in one :class:`Simulation`.

    Args:
        sim: The simulation (owned by the environment).

    """

    TABLE_HALF = (0.45, 0.55, 0.02)

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.table = sim.create_body(
            [Shape("box", self.TABLE_HALF)],
            TABLE_COLOR,
            (0.45, 0.0, -self.TABLE_HALF[2]),
            lateral_friction=0.6,
        )
        self.robot = PandaSuction(sim)
        self.objects: list[SceneObject] = []
        self._footprints: list[tuple[np.ndarray, float]] = []

    # ------------------------------------------------------------------ building
    def clear(self) -> None:
        """Remove every task object (the table and robot stay)."""
        self.robot.release()
        for obj in self.objects:
            self.sim.remove_body(obj.body)
        self.objects.clear()
        self._footprints.clear()
        self.robot.go_home()

    def add(self, spec: ObjectSpec, xy: Vector, yaw: float = 0.0, z: float | None = None) -> SceneObject:
        """Spawn an object resting on the table (or at height ``z`` of its centre) at ``xy``."""
        zc = spec.half_extents[2] if z is None else z
        body = self.sim.create_body(
            spec.shapes,
            spec.rgba,
            (float(xy[0]), float(xy[1]), zc),
            tuple(quat_from_yaw(yaw)),
            mass=spec.mass,
        )
        obj = SceneObject(body, spec)
        self.objects.append(obj)
        self._footprints.append((np.asarray(xy[:2], dtype=np.float64), self.radius(spec)))
        return obj

    def add_keepout(self, xy: Vector, radius: float) -> None:
        """Keep later random spawns out of a disk (a goal spot that must start empty)."""
        self._footprints.append((np.asarray(xy[:2], dtype=np.float64), radius))

    @staticmethod
    def radius(spec: ObjectSpec) -> float:
        """Radius of a circle covering the object's footprint."""
        return math.hypot(spec.half_extents[0], spec.half_extents[1])

    def free_spot(
        self,
        rng: np.random.Generator,
        radius: float,
        margin: float = 0.01,
        u_range: tuple[float, float] = (-0.9, 0.9),
        v_range: tuple[float, float] = (-0.9, 0.9),
        tries: int = 300,
    ) -> np.ndarray:
        """Return a random table (x, y) whose disk of ``radius`` overlaps nothing placed so far.

        Raises:
            PlacementError: when no spot is found (the task layout is too crowded).

        """
        for _ in range(tries):
            u, v = rng.uniform(*u_range), rng.uniform(*v_range)
            xy = uv_to_world(u, v)
            if not self.inside_workspace(xy, radius):
                continue
            if all(np.linalg.norm(xy - c) >= radius + r + margin for c, r in self._footprints):
                return xy
        raise PlacementError(f"no free spot of radius {radius:.3f} m after {tries} tries")

    def spawn(
        self,
        spec: ObjectSpec,
        rng: np.random.Generator,
        u_range: tuple[float, float] = (-0.9, 0.9),
        v_range: tuple[float, float] = (-0.9, 0.9),
    ) -> SceneObject:
        """Spawn an object at a random free spot with a random yaw."""
        xy = self.free_spot(rng, self.radius(spec), u_range=u_range, v_range=v_range)
        return self.add(spec, xy, float(rng.uniform(-math.pi, math.pi)))

    @staticmethod
    def inside_workspace(xy: Vector, radius: float = 0.0) -> bool:
        """Whether a disk at ``xy`` lies inside the workspace."""
        return (WORKSPACE_X[0] + radius <= xy[0] <= WORKSPACE_X[1] - radius) and (
            WORKSPACE_Y[0] + radius <= xy[1] <= WORKSPACE_Y[1] - radius
        )

    # ------------------------------------------------------------------ queries
    @property
    def movable(self) -> list[int]:
        """Bodies the robot may pick."""
        return [o.body for o in self.objects if o.spec.movable]

    def position(self, obj: SceneObject) -> np.ndarray:
        """Centre of an object."""
        return self.sim.pose(obj.body)[0]

    def yaw(self, obj: SceneObject) -> float:
        """Yaw of an object."""
        return yaw_of(self.sim.pose(obj.body)[1])

    def top(self, obj: SceneObject) -> np.ndarray:
        """Centre of an object's top face (where the suction cup picks it)."""
        pos = self.position(obj)
        return np.array([pos[0], pos[1], pos[2] + obj.spec.half_extents[2]])

    def on_top_of(self, obj: SceneObject, base: SceneObject, xy_tolerance: float | None = None) -> bool:
        """Whether ``obj`` rests on ``base``: centred over it (within ``xy_tolerance``), one height up."""
        a, b = self.position(obj), self.position(base)
        tol = xy_tolerance if xy_tolerance is not None else 0.6 * min(base.spec.half_extents[:2])
        expected = b[2] + base.spec.half_extents[2] + obj.spec.half_extents[2]
        return bool(np.linalg.norm(a[:2] - b[:2]) <= tol and abs(a[2] - expected) <= 0.012)

    def inside(self, obj: SceneObject, container: SceneObject) -> bool:
        """Whether ``obj``'s centre lies within a container's inner walls and below its rim."""
        a, c = self.position(obj), self.position(container)
        inner = min(container.spec.half_extents[:2]) - 0.008
        rim = c[2] + container.spec.half_extents[2]
        if container.spec.kind == "box":
            local = np.abs(_rotate(a[:2] - c[:2], -self.yaw(container)))
            within = bool(np.all(local <= inner))
        else:
            within = bool(np.linalg.norm(a[:2] - c[:2]) <= inner)
        return within and a[2] - obj.spec.half_extents[2] < rim

    def resting_on_table(self, obj: SceneObject) -> bool:
        """Whether the object lies directly on the table (or on a thin zone pad)."""
        return abs(self.position(obj)[2] - obj.spec.half_extents[2]) <= 0.006

    def settle(self, max_steps: int = 240) -> int:
        """Run physics until the movable objects are still; return the steps run."""
        return self.sim.settle(self.movable, max_steps=max_steps)


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
