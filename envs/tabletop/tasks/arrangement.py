"""Arrangement families over several blocks: sort by colour, separate a pile, align in a row."""

from __future__ import annotations

import math

import numpy as np
from rlft.envs.tabletop.objects import REGIONS, Region, make_object, make_pad, uv_to_world
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.scene import Scene, SceneObject
from rlft.envs.tabletop.tasks.base import Task, near


def _slot_plan(
    scene: Scene, goals: list[tuple[SceneObject, list[np.ndarray]]], done: list[bool]
) -> Plan | None:
    """Move the first unfinished object to the first of its slots that no other object occupies."""
    for (obj, slots), ok in zip(goals, done, strict=True):
        if ok:
            continue
        others = [scene.position(o)[:2] for o in scene.objects if o.spec.movable and o.body != obj.body]
        for slot in slots:
            if all(np.linalg.norm(slot - p) > 0.035 for p in others):
                return Plan.move(scene, obj, slot, target_yaw=0.0)
    return None


class SortByColour(Task):
    """Put every block on the pad of its own colour (two or three colours, two blocks each).

    Sub-goals: each block rests on its pad (its centre inside the pad's square).
    """

    key = "sort_by_colour"
    max_steps = 9
    templates = (
        "sort the blocks by colour onto the pads of the same colour",
        "put each block on the pad that matches its colour",
        "move every block to the pad of its colour",
        "group the blocks by colour on the matching pads",
    )
    PAD_HALF = 0.05

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        colors = self.colors(rng, int(rng.integers(2, 4)))
        self.pads = {}
        for c in colors:
            xy = scene.free_spot(rng, self.PAD_HALF * math.sqrt(2), margin=0.015)
            self.pads[c] = scene.add(make_pad(c, self.PAD_HALF), xy, z=0.001)
        self.blocks = [scene.spawn(make_object("block", c, "small"), rng) for c in colors for _ in range(2)]
        return self.template(rng)

    def _on_pad(self, scene: Scene, block: SceneObject) -> bool:
        pad = scene.position(self.pads[block.spec.color])
        pos = scene.position(block)
        return bool(np.all(np.abs(pos[:2] - pad[:2]) <= self.PAD_HALF) and pos[2] < 0.035)

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        return [self._on_pad(scene, b) for b in self.blocks]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        goals = []
        for b in self.blocks:
            pad = scene.position(self.pads[b.spec.color])[:2]
            goals.append((b, [pad + np.array([0.0, d]) for d in (-0.024, 0.024)]))
        return _slot_plan(scene, goals, self.subgoals(scene))


PILE_PAIRS: tuple[tuple[str, str], ...] = (
    ("left", "right"),
    ("top", "bottom"),
    ("top_left", "bottom_right"),
    ("top_right", "bottom_left"),
)


class SeparatePiles(Task):
    """A mixed pile of two colours sits in the middle; move each colour to its named region.

    Sub-goals: each block rests on the table inside its colour's region.
    """

    key = "separate_piles"
    max_steps = 9
    templates = (
        "separate the pile: {a} blocks to {ra} and {b} blocks to {rb}",
        "move the {a} blocks to {ra} and the {b} blocks to {rb}",
        "split the pile by colour, {a} to {ra}, {b} to {rb}",
        "sort the pile so the {a} blocks go to {ra} and the {b} blocks to {rb}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        pair = PILE_PAIRS[int(rng.integers(len(PILE_PAIRS)))]
        if rng.random() < 0.5:
            pair = (pair[1], pair[0])
        a, b = self.colors(rng, 2)
        self.targets: dict[str, Region] = {a: REGIONS[pair[0]], b: REGIONS[pair[1]]}
        colors = [a, b] * 3
        rng.shuffle(colors)
        self.blocks = [
            scene.spawn(make_object("block", c, "small"), rng, u_range=(-0.3, 0.3), v_range=(-0.3, 0.3))
            for c in colors
        ]
        ra, rb = (self.targets[c].describe(rng)[0] for c in (a, b))
        return self.template(rng, a=a, b=b, ra=ra, rb=rb)

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        return [
            self.targets[b.spec.color].contains(scene.position(b)[:2]) and scene.resting_on_table(b)
            for b in self.blocks
        ]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        goals = []
        for b in self.blocks:
            cu, cv = self.targets[b.spec.color].center_uv
            slots = [uv_to_world(cu + du, cv + dv) for dv in (-0.12, 0.12) for du in (-0.17, 0.0, 0.17)]
            goals.append((b, slots))
        return _slot_plan(scene, goals, self.subgoals(scene))


class AlignBlocks(Task):
    """Line up three or four blocks in the named colour order, left to right, along a named row.

    Sub-goals: each block lies in the row's band, on the table, square to the row (yaw within 15 degrees
    modulo 90); plus one for the left-to-right order with at least 4.5 cm between neighbours.
    """

    key = "align_blocks"
    max_steps = 8
    yaw_tolerance = math.radians(15)
    templates = (
        "line up the blocks along {row} from left to right: {order}",
        "arrange the {order} blocks in a row along {row}, in that order from left to right",
        "put the blocks in a straight line along {row}, ordered {order} from the left",
    )
    ROWS: dict[str, tuple[str, float]] = {
        "top": ("the top edge of the table", -0.67),
        "middle": ("the middle of the table", 0.0),
        "bottom": ("the bottom edge of the table", 0.67),
    }

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        keys = sorted(self.ROWS)
        self.row = keys[int(rng.integers(len(keys)))]
        phrase, v = self.ROWS[self.row]
        colors = self.colors(rng, int(rng.integers(3, 5)))
        us = np.linspace(-0.6, 0.6, len(colors))
        self.slots = [uv_to_world(float(u), v) for u in us]
        for slot in self.slots:
            scene.add_keepout(slot, 0.035)
        band = (v - 0.25, v + 0.25)
        outside = [(-0.9, band[0]), (band[1], 0.9)]
        self.blocks = []
        for c in colors:
            ranges = [r for r in outside if r[1] - r[0] > 0.2]
            v_range = ranges[int(rng.integers(len(ranges)))]
            self.blocks.append(scene.spawn(make_object("block", c), rng, v_range=v_range))
        return self.template(rng, row=phrase, order=", ".join(colors))

    def _in_band(self, scene: Scene, block: SceneObject) -> bool:
        pos = scene.position(block)
        yaw_ok = abs(((scene.yaw(block) + math.pi / 4) % (math.pi / 2)) - math.pi / 4) <= self.yaw_tolerance
        return abs(pos[0] - self.slots[0][0]) <= 0.03 and scene.resting_on_table(block) and yaw_ok

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        ys = [scene.position(b)[1] for b in self.blocks]
        ordered = all(ys[i + 1] - ys[i] >= 0.045 for i in range(len(ys) - 1))
        return [self._in_band(scene, b) for b in self.blocks] + [ordered]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        done = [
            self._in_band(scene, b) and near(scene.position(b), s, 0.015)
            for b, s in zip(self.blocks, self.slots, strict=True)
        ]
        if all(self.subgoals(scene)):
            return None
        return _slot_plan(scene, [(b, [s]) for b, s in zip(self.blocks, self.slots, strict=True)], done)
