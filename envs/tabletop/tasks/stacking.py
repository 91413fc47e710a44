"""Multi-move stacking families: a tower in a named colour order, a pyramid, towers of Hanoi."""

from __future__ import annotations

import math

import numpy as np
from rlft.envs.tabletop.objects import REGIONS, SPLIT_COLORS, make_disk, make_object, make_pad, uv_to_world
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.scene import Scene, SceneObject
from rlft.envs.tabletop.tasks.base import Task, blocker, clear_plan, free_table_spot, near


def _join(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


class StackBlocks(Task):
    """Stack three or four blocks into one tower in the named colour order (bottom to top).

    Sub-goals: block i rests on block i - 1 (centred within 1.2 cm), for each block above the bottom one.
    """

    key = "stack_blocks"
    max_steps = 8
    position_tolerance = 0.012
    templates = (
        "stack the blocks with the {bottom} block at the bottom, then {rest} on top",
        "build a tower: {order}, from bottom to top",
        "stack the {order} blocks in that order, bottom first",
        "make a tower with {order} blocks, the {bottom} one at the base",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        colors = self.colors(rng, int(rng.integers(3, 5)))
        self.blocks = [scene.spawn(make_object("block", c), rng) for c in colors]
        return self.template(rng, bottom=colors[0], rest=", then ".join(colors[1:]), order=_join(colors))

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        return [scene.on_top_of(self.blocks[i], self.blocks[i - 1]) for i in range(1, len(self.blocks))]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        goals = self.subgoals(scene)
        if all(goals):
            return None
        i = goals.index(False) + 1  # the first block not yet on its base
        base, block = self.blocks[i - 1], self.blocks[i]
        # Unstack whatever lies wrongly on the base (or on the block to move) first.
        for obj in (base, block):
            top = blocker(scene, obj)
            if top is not None and not (obj is base and top.body == block.body):
                return clear_plan(scene, obj)
        if i == 1 and not scene.resting_on_table(base):
            return Plan.move(scene, base, free_table_spot(scene, Scene.radius(base.spec)))
        return Plan.move(scene, block, scene.position(base)[:2], target_yaw=scene.yaw(base))


class StackPyramid(Task):
    """Build a 3-2-1 pyramid of six blocks in a named region, rows by colour.

    Sub-goals: each of the six slots holds a block of the row's colour (centre within 1.5 cm of the slot,
    height within 1.2 cm, yaw within 15 degrees of the row direction modulo 90 degrees).
    """

    key = "stack_pyramid"
    max_steps = 10
    position_tolerance = 0.015
    yaw_tolerance = math.radians(15)
    templates = (
        "build a pyramid {region} with the {a} blocks at the bottom, the {b} blocks in the middle"
        " and the {c} block on top",
        "make a pyramid {region}: {a} blocks on the bottom row, {b} blocks in the middle row,"
        " {c} block on top",
        "stack a pyramid {region} with a bottom row of {a}, a middle row of {b} and a {c} block at the top",
    )
    SPACING = 0.046
    REGION_KEYS = ("top", "center", "bottom", "left", "right")

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        self.region = REGIONS[self.REGION_KEYS[int(rng.integers(len(self.REGION_KEYS)))]]
        colors = self.colors(rng, 3)
        self.row_colors = colors
        base_xy = uv_to_world(*self.region.center_uv)
        s, h = self.SPACING, 0.04
        # Slots: (x, y, z) along world y, rows bottom to top.
        self.slots = [
            (base_xy[0], base_xy[1] - s, h / 2, 0),
            (base_xy[0], base_xy[1], h / 2, 0),
            (base_xy[0], base_xy[1] + s, h / 2, 0),
            (base_xy[0], base_xy[1] - s / 2, 1.5 * h, 1),
            (base_xy[0], base_xy[1] + s / 2, 1.5 * h, 1),
            (base_xy[0], base_xy[1], 2.5 * h, 2),
        ]
        scene.add_keepout(base_xy, 0.1)
        self.blocks = [scene.spawn(make_object("block", colors[row]), rng) for row in (0, 0, 0, 1, 1, 2)]
        _, at_region = self.region.describe(rng)
        return self.template(rng, region=at_region, a=colors[0], b=colors[1], c=colors[2])

    def _filled(self, scene: Scene, slot: tuple[float, float, float, int]) -> SceneObject | None:
        for block in self.blocks:
            if block.spec.color != self.row_colors[slot[3]]:
                continue
            pos = scene.position(block)
            yaw_ok = (
                abs(((scene.yaw(block) + math.pi / 4) % (math.pi / 2)) - math.pi / 4) <= self.yaw_tolerance
            )
            if near(pos, slot, self.position_tolerance) and abs(pos[2] - slot[2]) <= 0.012 and yaw_ok:
                return block
        return None

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        return [self._filled(scene, slot) is not None for slot in self.slots]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        used = {b.body for slot in self.slots if (b := self._filled(scene, slot)) is not None}
        for slot in self.slots:
            if self._filled(scene, slot) is not None:
                continue
            candidates = [
                b for b in self.blocks if b.body not in used and b.spec.color == self.row_colors[slot[3]]
            ]
            if not candidates:
                return None
            free = [b for b in candidates if blocker(scene, b) is None]
            if not free:  # every block of the row's colour is buried (a knocked-over pyramid): dig one out
                return clear_plan(scene, candidates[0], avoid=[np.asarray(s[:2]) for s in self.slots])
            return Plan.move(scene, free[0], slot[:2], target_yaw=0.0)
        return None


class TowersOfHanoi(Task):
    """Move a tower of three disks from one coloured pad to another, never a larger disk on a smaller one.

    The rule of the game is kept by the expert; the score counts the final tower.

    Sub-goals: each disk rests on the target pad at its tower level (centre within 2 cm of the pad centre).
    """

    key = "towers_of_hanoi"
    max_steps = 14
    position_tolerance = 0.02
    templates = (
        "move the tower from the {src} pad to the {dst} pad, one disk at a time,"
        " never a larger disk on a smaller one",
        "solve the towers of hanoi: bring all disks from the {src} pad to the {dst} pad",
        "rebuild the disk tower on the {dst} pad, moving disks one by one from the {src} pad",
    )
    RADII = (0.046, 0.037, 0.028)
    THICKNESS = 0.02

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        pad_colors = self.colors(rng, 3)
        v = float(rng.uniform(-0.5, 0.5))
        self.pads = [
            scene.add(make_pad(c, 0.05), uv_to_world(u, v), z=0.001)
            for c, u in zip(pad_colors, (-0.6, 0, 0.6), strict=True)
        ]
        src, dst = (int(i) for i in rng.choice(3, size=2, replace=False))
        self.target = dst
        disk_colors = [c for c in SPLIT_COLORS[self.split] if c not in pad_colors]
        src_xy = scene.position(self.pads[src])[:2]
        self.disks = []
        for k, radius in enumerate(self.RADII):
            z = 0.002 + self.THICKNESS * (k + 0.5)
            self.disks.append(
                scene.add(make_disk(disk_colors[k % len(disk_colors)], radius, self.THICKNESS), src_xy, z=z)
            )
        return self.template(rng, src=self.pads[src].spec.color, dst=self.pads[dst].spec.color)

    def _peg(self, scene: Scene, disk: SceneObject) -> int:
        pos = scene.position(disk)[:2]
        return int(np.argmin([np.linalg.norm(pos - scene.position(p)[:2]) for p in self.pads]))

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        pad_xy = scene.position(self.pads[self.target])[:2]
        return [
            near(scene.position(d), pad_xy, self.position_tolerance)
            and abs(scene.position(d)[2] - (0.002 + self.THICKNESS * (k + 0.5))) <= 0.008
            for k, d in enumerate(self.disks)
        ]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        if all(self.subgoals(scene)):
            return None
        pegs = [self._peg(scene, d) for d in self.disks]

        def solve(k: int, dest: int) -> tuple[int, int] | None:
            # Next move that brings disks k..2 (k = largest considered) onto ``dest``, from any legal state.
            if k >= len(self.disks):
                return None
            if pegs[k] == dest:
                return solve(k + 1, dest)
            spare = 3 - pegs[k] - dest
            return solve(k + 1, spare) or (k, dest)

        move = solve(0, self.target)
        if move is None:  # every disk is on the right pad but one sits badly: re-place the top one
            move = (len(self.disks) - 1, self.target)
        disk, dest = self.disks[move[0]], move[1]
        return Plan.move(scene, disk, scene.position(self.pads[dest])[:2])
