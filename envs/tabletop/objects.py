"""Procedural objects, named colours and sizes, dataset splits and named table regions.

Everything is built from primitives at run time (boxes, cylinders, convex prisms and compounds); no
asset file is read or fetched. The ``train`` and ``validation`` splits use the seen colours and shapes,
``test`` the held-out ones (CLIPort's seen / unseen splits; ``unseen`` is accepted as an alias of ``test``).

Table coordinates: the workspace is ``WORKSPACE_X`` x ``WORKSPACE_Y`` metres on the table top (z = 0).
Normalised coordinates (u, v) in [-1, 1]^2 follow the top-down image: u runs left to right (world +y),
v top to bottom (world +x, away from the robot, towards the viewer of the front camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from rlft.envs.tabletop.sim import Shape
from rlft.errors import check_choice

WORKSPACE_X: tuple[float, float] = (0.32, 0.68)
"""World x covered by the workspace (top of the top-down image first)."""
WORKSPACE_Y: tuple[float, float] = (-0.27, 0.27)
"""World y covered by the workspace (left of the image first)."""

COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.16, 0.16, 1.0),
    "green": (0.2, 0.68, 0.26, 1.0),
    "blue": (0.18, 0.36, 0.86, 1.0),
    "yellow": (0.96, 0.84, 0.16, 1.0),
    "purple": (0.55, 0.26, 0.72, 1.0),
    "cyan": (0.2, 0.8, 0.86, 1.0),
    "brown": (0.52, 0.34, 0.18, 1.0),
    "orange": (1.0, 0.52, 0.08, 1.0),
    "pink": (1.0, 0.56, 0.76, 1.0),
    "white": (0.95, 0.95, 0.95, 1.0),
    "gray": (0.5, 0.5, 0.52, 1.0),
    "black": (0.12, 0.12, 0.12, 1.0),
    "lime": (0.72, 0.94, 0.3, 1.0),
}
"""Every named colour (RGBA)."""

SPLIT_ALIASES: dict[str, str] = {"unseen": "test"}
"""Accepted split names beyond :data:`rlft.envs.contract.SPLITS`, mapped to the canonical one."""

SEEN_COLORS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "cyan", "brown")
"""Colours of the ``train`` and ``validation`` splits."""
HELD_OUT_COLORS: tuple[str, ...] = ("orange", "pink", "white", "gray", "black", "lime")
"""Colours of the ``test`` split, disjoint from :data:`SEEN_COLORS`."""
SEEN_SHAPES: tuple[str, ...] = ("block", "cylinder", "hexagon")
"""Shapes of the ``train`` and ``validation`` splits."""
HELD_OUT_SHAPES: tuple[str, ...] = ("triangle", "cross", "pentagon")
"""Shapes of the ``test`` split, disjoint from :data:`SEEN_SHAPES`."""

SPLIT_COLORS: dict[str, tuple[str, ...]] = {
    "train": SEEN_COLORS,
    "validation": SEEN_COLORS,
    "test": HELD_OUT_COLORS,
}
"""Colours of each canonical split."""

SPLIT_SHAPES: dict[str, tuple[str, ...]] = {
    "train": SEEN_SHAPES,
    "validation": SEEN_SHAPES,
    "test": HELD_OUT_SHAPES,
}
"""Shapes of each canonical split (tasks about generic objects draw from these; block tasks use blocks)."""

SIZES: dict[str, float] = {"small": 0.034, "medium": 0.04, "large": 0.048}
"""Named sizes: footprint width in metres."""

TABLE_COLOR = (0.78, 0.66, 0.5, 1.0)


@dataclass(frozen=True)
class ObjectSpec:
    """What a procedural object is: its shape, colour, size and how to build it.

    Attributes:
        kind: Shape name (``block``, ``cylinder``, ``bowl``, ``box`` ...).
        color: Colour name (a key of :data:`COLORS`).
        size: Size name (a key of :data:`SIZES`), or ``""`` for fixed-size props.
        shapes: Primitives the body is built from.
        half_extents: Half size of the body's bounding box in its own frame.
        mass: kg; 0 makes the body static (containers and zone pads are fixed to the table).
        symmetry: Yaw symmetry in radians (pi/2 for a square block, 0 for a body of revolution).
        movable: Whether the robot may pick it.

    """

    kind: str
    color: str
    size: str
    shapes: tuple[Shape, ...]
    half_extents: tuple[float, float, float]
    mass: float = 0.05
    symmetry: float = 0.0
    movable: bool = True
    tags: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """How instructions call it: ``"red block"``."""
        return f"{self.color} {self.kind}"

    @property
    def rgba(self) -> tuple[float, float, float, float]:
        """Its RGBA colour."""
        return COLORS[self.color]


def _prism(sides: int, radius: float, height: float, phase: float = 0.0) -> Shape:
    """Convex prism with a regular polygon base; the body frame sits at its centre."""
    angles = [phase + 2 * math.pi * i / sides for i in range(sides)]
    ring = [(radius * math.cos(a), radius * math.sin(a)) for a in angles]
    vertices = tuple((x, y, z) for z in (-height / 2, height / 2) for x, y in ring)
    indices: list[int] = []
    for i in range(1, sides - 1):  # bottom and top fans
        indices += [0, i + 1, i, sides, sides + i, sides + i + 1]
    for i in range(sides):  # sides
        j = (i + 1) % sides
        indices += [i, j, sides + j, i, sides + j, sides + i]
    return Shape("mesh", vertices=vertices, indices=tuple(indices))


def make_object(kind: str, color: str, size: str = "medium") -> ObjectSpec:
    """Build the spec of a pickable object.

    Args:
        kind: ``block``, ``cylinder``, ``hexagon``, ``triangle``, ``pentagon``, ``cross`` or ``disk``
            (a flat cylinder used by towers of Hanoi; its diameter is the size in metres via ``size``).
        color: A key of :data:`COLORS`.
        size: A key of :data:`SIZES`.

    """
    check_choice("color", color, COLORS)
    check_choice("size", size, SIZES)
    width = SIZES[size]
    half = width / 2
    height = 0.04
    if kind == "block":
        shapes: tuple[Shape, ...] = (Shape("box", (half, half, half)),)
        return ObjectSpec(kind, color, size, shapes, (half, half, half), symmetry=math.pi / 2)
    if kind == "cylinder":
        shapes = (Shape("cylinder", (half, height)),)
        return ObjectSpec(kind, color, size, shapes, (half, half, height / 2))
    if kind in ("hexagon", "pentagon", "triangle"):
        sides = {"hexagon": 6, "pentagon": 5, "triangle": 3}[kind]
        radius = half * (1.25 if sides == 3 else 1.05)
        shapes = (_prism(sides, radius, height),)
        return ObjectSpec(
            kind, color, size, shapes, (radius, radius, height / 2), symmetry=2 * math.pi / sides
        )
    if kind == "cross":
        arm = half * 0.4
        shapes = (Shape("box", (half * 1.2, arm, height / 2)), Shape("box", (arm, half * 1.2, height / 2)))
        return ObjectSpec(
            kind, color, size, shapes, (half * 1.2, half * 1.2, height / 2), symmetry=math.pi / 2
        )
    raise ValueError(f"unknown object kind {kind!r}")


def make_disk(color: str, radius: float, thickness: float = 0.02) -> ObjectSpec:
    """Build a flat disk (towers of Hanoi): a cylinder of the given radius."""
    shapes = (Shape("cylinder", (radius, thickness)),)
    return ObjectSpec("disk", color, "", shapes, (radius, radius, thickness / 2))


def make_bowl(
    color: str, inner_radius: float = 0.055, height: float = 0.035, segments: int = 14
) -> ObjectSpec:
    """Build a static bowl: a floor disk and a ring of wall slabs (a compound of primitives)."""
    wall = 0.006
    shapes = [Shape("cylinder", (inner_radius + wall, 0.006), position=(0.0, 0.0, -height / 2 + 0.003))]
    ring = inner_radius + wall / 2
    half_len = ring * math.tan(math.pi / segments) + wall / 2
    for i in range(segments):
        a = 2 * math.pi * i / segments
        quat = (0.0, 0.0, math.sin(a / 2), math.cos(a / 2))
        shapes.append(
            Shape(
                "box",
                (wall / 2, half_len, height / 2),
                position=(ring * math.cos(a), ring * math.sin(a), 0.0),
                orientation=quat,
            )
        )
    r = inner_radius + wall
    return ObjectSpec("bowl", color, "", tuple(shapes), (r, r, height / 2), mass=0.0, movable=False)


def make_box(color: str, inner: float = 0.1, height: float = 0.05) -> ObjectSpec:
    """Build a static open box (container): a floor and four walls."""
    wall = 0.008
    half_in = inner / 2
    half_out = half_in + wall
    shapes = (
        Shape("box", (half_out, half_out, 0.003), position=(0.0, 0.0, -height / 2 + 0.003)),
        Shape("box", (wall / 2, half_out, height / 2), position=(half_in + wall / 2, 0.0, 0.0)),
        Shape("box", (wall / 2, half_out, height / 2), position=(-half_in - wall / 2, 0.0, 0.0)),
        Shape("box", (half_in, wall / 2, height / 2), position=(0.0, half_in + wall / 2, 0.0)),
        Shape("box", (half_in, wall / 2, height / 2), position=(0.0, -half_in - wall / 2, 0.0)),
    )
    return ObjectSpec(
        "box",
        color,
        "",
        shapes,
        (half_out, half_out, height / 2),
        mass=0.0,
        symmetry=math.pi / 2,
        movable=False,
    )


def make_pad(color: str, half_size: float = 0.05) -> ObjectSpec:
    """Build a thin static square marking a zone on the table."""
    shapes = (Shape("box", (half_size, half_size, 0.001)),)
    return ObjectSpec(
        "zone",
        color,
        "",
        shapes,
        (half_size, half_size, 0.001),
        mass=0.0,
        symmetry=math.pi / 2,
        movable=False,
    )


# ---------------------------------------------------------------------------------------------- regions
@dataclass(frozen=True)
class Region:
    """A named region of the table: a rectangle in normalised (u, v) coordinates.

    Attributes:
        key: Identifier (``top_left``).
        phrases: Ways instructions name it ("the top left corner", "the far left corner").
        preposition: How a location in it is said ("in" the corner, "on" the side, "at" the edge).
        u: (min, max) horizontal normalised extent.
        v: (min, max) vertical normalised extent.

    """

    key: str
    phrases: tuple[str, ...]
    preposition: str
    u: tuple[float, float]
    v: tuple[float, float]

    def describe(self, rng: np.random.Generator) -> tuple[str, str]:
        """Pick one phrase: returns it bare ("the top edge") and as a location ("at the top edge")."""
        phrase = self.phrases[int(rng.integers(len(self.phrases)))]
        return phrase, f"{self.preposition} {phrase}"

    @property
    def center_uv(self) -> tuple[float, float]:
        """Centre in normalised coordinates."""
        return (sum(self.u) / 2, sum(self.v) / 2)

    def contains(self, xy: np.ndarray) -> bool:
        """Whether a world (x, y) point lies in the region."""
        u, v = world_to_uv(xy)
        return self.u[0] <= u <= self.u[1] and self.v[0] <= v <= self.v[1]


_THIRDS = ((-1.0, -1 / 3), (-1 / 3, 1 / 3), (1 / 3, 1.0))
_ROW_WORDS = (("top", "far"), ("middle", "centre"), ("bottom", "near"))
_COL_WORDS = ("left", "middle", "right")


def _regions() -> dict[str, Region]:
    out: dict[str, Region] = {}
    for vi, (row, alt) in enumerate(_ROW_WORDS):
        for ui, col in enumerate(_COL_WORDS):
            if row == "middle" and col == "middle":
                key, prep, phrases = "center", "in", ("the center of the table", "the middle of the table")
            elif row == "middle":
                key, prep, phrases = col, "on", (f"the {col} side of the table", f"the {col} side")
            elif col == "middle":
                key, prep, phrases = (
                    row,
                    "at",
                    (f"the {row} edge of the table", f"the {alt} edge of the table"),
                )
            else:
                key, prep = f"{row}_{col}", "in"
                phrases = (f"the {row} {col} corner", f"the {alt} {col} corner")
            out[key] = Region(key, phrases, prep, _THIRDS[ui], _THIRDS[vi])
    return out


REGIONS: dict[str, Region] = _regions()
"""The nine named table regions: corners, edges, sides and centre (a 3 x 3 grid of the workspace)."""


def uv_to_world(u: float, v: float) -> np.ndarray:
    """Normalised table coordinates to world (x, y)."""
    x = WORKSPACE_X[0] + (v + 1) / 2 * (WORKSPACE_X[1] - WORKSPACE_X[0])
    y = WORKSPACE_Y[0] + (u + 1) / 2 * (WORKSPACE_Y[1] - WORKSPACE_Y[0])
    return np.array([x, y])


def world_to_uv(xy: np.ndarray) -> tuple[float, float]:
    """World (x, y) to normalised table coordinates (may fall outside [-1, 1] off the workspace)."""
    v = (xy[0] - WORKSPACE_X[0]) / (WORKSPACE_X[1] - WORKSPACE_X[0]) * 2 - 1
    u = (xy[1] - WORKSPACE_Y[0]) / (WORKSPACE_Y[1] - WORKSPACE_Y[0]) * 2 - 1
    return float(u), float(v)


def pixel_to_uv(row: float, col: float, shape: tuple[int, int]) -> tuple[float, float]:
    """Centre of a heightmap cell (``heightmap_size`` = ``shape``) in normalised action coordinates."""
    return (col + 0.5) / shape[1] * 2 - 1, (row + 0.5) / shape[0] * 2 - 1


def wrap_angle(angle: float) -> float:
    """Wrap an angle to ``[-pi, pi)``."""
    return (angle + math.pi) % (2 * math.pi) - math.pi
