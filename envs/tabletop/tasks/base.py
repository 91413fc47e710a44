"""The :class:`Task` base class, the task registry and helpers the task families share.

A task family spawns its objects, writes the instruction, scores sub-goals and knows a privileged expert.
Subclasses register themselves by ``key``; their class attributes are checked when the class is defined,
so a malformed task fails at import, not in the middle of a training run.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from rlft.envs.contract import check_split
from rlft.envs.tabletop.objects import (
    SPLIT_ALIASES,
    SPLIT_COLORS,
    SPLIT_SHAPES,
    ObjectSpec,
    make_object,
    uv_to_world,
)
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.scene import Scene, SceneObject
from rlft.envs.tabletop.sim import Vector
from rlft.errors import LazyRegistry

TASKS: LazyRegistry[type[Task]] = LazyRegistry("tabletop task")
"""Task key -> class, filled as task modules are imported."""


class Task(ABC):
    """Base class of task families.

    Class attributes (checked at class definition):
        key: Registry key and the ``task`` kwarg (``put_block_in_bowl``).
        max_steps: Default episode length in actions (the env truncates there).
        templates: Instruction templates; ``str.format`` fields are filled by :meth:`build`.

    Args:
        split: ``"train"`` or ``"validation"`` (seen colours and shapes) or ``"test"`` (held-out ones;
            ``"unseen"`` is an alias). :attr:`split` holds the canonical name.

    """

    key: ClassVar[str] = ""
    max_steps: ClassVar[int] = 0
    templates: ClassVar[tuple[str, ...]] = ()
    position_tolerance: ClassVar[float] = 0.0
    """Documented position tolerance of the sub-goals (metres), 0 when containment decides."""
    yaw_tolerance: ClassVar[float] = 0.0
    """Documented yaw tolerance (radians), 0 when orientation does not count."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # ABCMeta computes __abstractmethods__ after this hook runs, so look at the methods themselves.
        if any(
            getattr(getattr(cls, m), "__isabstractmethod__", False) for m in ("build", "subgoals", "expert")
        ):
            return
        if not cls.key or not cls.key.isidentifier():
            raise TypeError(f"{cls.__name__}.key must be a non-empty identifier, got {cls.key!r}")
        if cls.key in TASKS and TASKS.target(cls.key) is not cls:
            used_by = TASKS.target(cls.key)
            raise TypeError(f"task key {cls.key!r} of {cls.__name__} is already used by {used_by}")
        if not isinstance(cls.max_steps, int) or cls.max_steps < 1:
            raise TypeError(f"{cls.__name__}.max_steps must be a positive int")
        if not cls.templates or not all(isinstance(t, str) and t for t in cls.templates):
            raise TypeError(f"{cls.__name__}.templates must be a non-empty tuple of strings")
        TASKS.register(cls.key, cls)

    def __init__(self, split: str = "train") -> None:
        self.split = check_split(split, SPLIT_ALIASES)

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn this episode's objects into an empty scene, remember the goal, return the instruction."""

    @abstractmethod
    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now; the score is the fraction that hold (each weighs the same)."""

    @abstractmethod
    def expert(self, scene: Scene) -> Plan | None:
        """Return the privileged expert's next move from the current state (``None`` when done)."""

    # ------------------------------------------------------------------ shared helpers
    def score(self, scene: Scene) -> float:
        """Fraction of sub-goals achieved, in [0, 1]."""
        goals = self.subgoals(scene)
        return sum(goals) / len(goals)

    def colors(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` distinct colours of this split."""
        palette = SPLIT_COLORS[self.split]
        return [palette[i] for i in rng.choice(len(palette), size=n, replace=False)]

    def shapes(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` shapes of this split (repeats allowed)."""
        palette = SPLIT_SHAPES[self.split]
        return [palette[i] for i in rng.integers(0, len(palette), size=n)]

    def distinct_objects(
        self, rng: np.random.Generator, n: int, kinds: Sequence[str] | None = None
    ) -> list[ObjectSpec]:
        """``n`` object specs with pairwise different (shape, colour), so each has a unique name."""
        palette_c = SPLIT_COLORS[self.split]
        palette_k = list(kinds) if kinds is not None else list(SPLIT_SHAPES[self.split])
        combos = [(k, c) for k in palette_k for c in palette_c]
        picked = rng.choice(len(combos), size=n, replace=False)
        return [make_object(combos[i][0], combos[i][1]) for i in picked]

    def template(self, rng: np.random.Generator, **fields: str) -> str:
        """Fill a random template."""
        return self.templates[int(rng.integers(len(self.templates)))].format(**fields)


def blocker(scene: Scene, obj: SceneObject) -> SceneObject | None:
    """Return the movable object lying on top of ``obj`` (highest first), if any."""
    pos = scene.position(obj)
    above = [
        o
        for o in scene.objects
        if o.spec.movable
        and o.body != obj.body
        and np.linalg.norm(scene.position(o)[:2] - pos[:2])
        < Scene.radius(obj.spec) + Scene.radius(o.spec) - 0.01
        and scene.position(o)[2] > pos[2] + 0.005
    ]
    return max(above, key=lambda o: scene.position(o)[2]) if above else None


def clear_plan(scene: Scene, obj: SceneObject, avoid: Sequence[np.ndarray] = ()) -> Plan | None:
    """Return a move that takes whatever lies on ``obj`` off it and puts it on a free spot of the table.

    ``avoid``: goal points the spot must keep clear of.
    """
    top = blocker(scene, obj)
    if top is None:
        return None
    while (higher := blocker(scene, top)) is not None:
        top = higher
    spot = free_table_spot(scene, Scene.radius(top.spec), avoid)
    return Plan.move(scene, top, spot)


def free_table_spot(scene: Scene, radius: float, avoid: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Return a deterministic free table spot (grid search), clear of every object and of ``avoid`` points."""
    taken = [(scene.position(o)[:2], Scene.radius(o.spec)) for o in scene.objects]
    taken += [(np.asarray(a, dtype=np.float64), 0.03) for a in avoid]
    for v in np.linspace(-0.85, 0.85, 9):
        for u in np.linspace(-0.85, 0.85, 11):
            xy = uv_to_world(float(u), float(v))
            if Scene.inside_workspace(xy, radius) and all(
                np.linalg.norm(xy - c) >= r + radius + 0.01 for c, r in taken
            ):
                return xy
    return np.array([0.5, 0.0])


def near(a: Vector, b: Vector, tolerance: float) -> bool:
    """Whether two (x, y) points are within ``tolerance`` metres."""
    return bool(math.hypot(a[0] - b[0], a[1] - b[1]) <= tolerance)
