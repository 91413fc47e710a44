"""Single-object placement families: into a bowl or a box, onto a block, into a region, next to an object."""

from __future__ import annotations

import numpy as np
from rlft.envs.tabletop.objects import REGIONS, SIZES, make_bowl, make_box, make_object, uv_to_world
from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.scene import Scene, SceneObject
from rlft.envs.tabletop.tasks.base import Task, blocker, clear_plan


class _MoveOneTask(Task):
    """A family whose goal is one object (``self.target``) reaching one destination."""

    target: SceneObject

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        if all(self.subgoals(scene)):
            return None
        unblock = clear_plan(scene, self.target, avoid=[self.destination(scene)])
        if unblock is not None:
            return unblock
        return Plan.move(scene, self.target, self.destination(scene))

    def destination(self, scene: Scene) -> np.ndarray:
        """World (x, y) where the expert puts the target."""
        raise NotImplementedError


class _ContainerTask(_MoveOneTask):
    """A family whose goal is the target inside ``self.container``.

    Sub-goal: the target's centre lies within the container's inner walls and its bottom below the rim.
    """

    container: SceneObject

    def subgoals(self, scene: Scene) -> list[bool]:
        """Whether the target lies in the container."""
        return [scene.inside(self.target, self.container)]

    def destination(self, scene: Scene) -> np.ndarray:
        """The container's centre."""
        return scene.position(self.container)[:2]


class PutBlockInBowl(_ContainerTask):
    """Put the named block in the named bowl; other blocks and bowls are distractors.

    Half of the episodes add a same-coloured block of another size, and the instruction names the size
    ("the small red block").
    """

    key = "put_block_in_bowl"
    max_steps = 4
    templates = (
        "put the {block} in the {bowl}",
        "place the {block} into the {bowl}",
        "drop the {block} in the {bowl}",
        "move the {block} to the {bowl}",
        "pick up the {block} and put it in the {bowl}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        n_bowls, n_blocks = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        colors = self.colors(rng, n_bowls + n_blocks)
        sizes = sorted(SIZES)
        size = sizes[int(rng.integers(len(sizes)))]
        bowls = [scene.spawn(make_bowl(c), rng) for c in colors[:n_bowls]]
        self.target = scene.spawn(make_object("block", colors[n_bowls], size), rng)
        name = self.target.spec.name
        if rng.random() < 0.5:
            # A twin of another size: only the size word in the instruction tells them apart.
            twin = sizes[(sizes.index(size) + 1 + int(rng.integers(len(sizes) - 1))) % len(sizes)]
            scene.spawn(make_object("block", colors[n_bowls], twin), rng)
            name = f"{size} {name}"
        for c in colors[n_bowls + 1 :]:
            scene.spawn(make_object("block", c), rng)
        self.container = bowls[0]
        return self.template(rng, block=name, bowl=self.container.spec.name)


class PackObjectInBox(_ContainerTask):
    """Pack the named object (any shape of the split) in the box; other objects are distractors."""

    key = "pack_object_in_box"
    max_steps = 4
    templates = (
        "pack the {obj} in the {box}",
        "put the {obj} into the {box}",
        "place the {obj} inside the {box}",
        "pack the {obj} into the {box}",
        "the {obj} goes in the {box}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        specs = self.distinct_objects(rng, int(rng.integers(2, 5)))
        box_color = self.colors(rng, 1)[0]
        self.container = scene.spawn(make_box(box_color), rng)
        objs = [scene.spawn(s, rng) for s in specs]
        self.target = objs[0]
        return self.template(rng, obj=self.target.spec.name, box=self.container.spec.name)


class PlaceInZone(_MoveOneTask):
    """Move the named object into a named region of the table (a corner, an edge, a side or the centre)."""

    key = "place_in_zone"
    max_steps = 4
    templates = (
        "put the {obj} {at_region}",
        "move the {obj} to {region}",
        "place the {obj} {at_region}",
        "slide the {obj} over to {region}",
        "the {obj} belongs {at_region}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        keys = sorted(REGIONS)
        self.region = REGIONS[keys[int(rng.integers(len(keys)))]]
        specs = self.distinct_objects(rng, int(rng.integers(2, 4)))
        # Keep the goal region empty at the start so the task is never solved at reset.
        center = uv_to_world(*self.region.center_uv)
        scene.add_keepout(center, 0.09)
        objs = [scene.spawn(s, rng) for s in specs]
        self.target = objs[0]
        region, at_region = self.region.describe(rng)
        return self.template(rng, obj=self.target.spec.name, region=region, at_region=at_region)

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        pos = scene.position(self.target)
        return [self.region.contains(pos[:2]) and scene.resting_on_table(self.target)]

    def destination(self, scene: Scene) -> np.ndarray:
        """World (x, y) where the expert puts the target."""
        return uv_to_world(*self.region.center_uv)


class PutBlockOnBlock(_MoveOneTask):
    """Put one named block on top of another named block."""

    key = "put_block_on_block"
    max_steps = 4
    position_tolerance = 0.012
    templates = (
        "put the {top} on the {base}",
        "stack the {top} on top of the {base}",
        "place the {top} onto the {base}",
        "set the {top} on the {base}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        colors = self.colors(rng, int(rng.integers(2, 5)))
        blocks = [scene.spawn(make_object("block", c), rng) for c in colors]
        self.target, self.base = blocks[0], blocks[1]
        return self.template(rng, top=self.target.spec.name, base=self.base.spec.name)

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        return [scene.on_top_of(self.target, self.base)]

    def expert(self, scene: Scene) -> Plan | None:
        """Next move of the privileged expert, ``None`` when done."""
        if all(self.subgoals(scene)):
            return None
        blocked = blocker(scene, self.base)
        if blocked is not None and blocked.body != self.target.body:
            return clear_plan(scene, self.base)
        return super().expert(scene)

    def destination(self, scene: Scene) -> np.ndarray:
        """World (x, y) where the expert puts the target."""
        return scene.position(self.base)[:2]


# direction key -> (phrases, unit offset in world (x, y)); "behind" is away from the viewer (towards -x).
RELATIONS: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "left": (("to the left of", "on the left side of"), (0.0, -1.0)),
    "right": (("to the right of", "on the right side of"), (0.0, 1.0)),
    "behind": (("behind", "just behind"), (-1.0, 0.0)),
    "front": (("in front of", "just in front of"), (1.0, 0.0)),
}


class PlaceNextTo(_MoveOneTask):
    """Put the named object beside another one, on the named side (left, right, behind, in front).

    Success: the object rests on the table, its centre is 3-14 cm from the reference object's centre along
    the named direction and within 4 cm of that axis.
    """

    key = "place_next_to"
    max_steps = 4
    position_tolerance = 0.04
    templates = (
        "put the {obj} {relation} the {ref}",
        "place the {obj} {relation} the {ref}",
        "move the {obj} so it is {relation} the {ref}",
        "set the {obj} down {relation} the {ref}",
    )

    def build(self, scene: Scene, rng: np.random.Generator) -> str:
        """Spawn the objects, remember the goal, return the instruction."""
        specs = self.distinct_objects(rng, int(rng.integers(2, 5)))
        self.ref = scene.spawn(specs[1], rng, u_range=(-0.5, 0.5), v_range=(-0.4, 0.4))
        ref_xy = scene.position(self.ref)[:2]
        keys = [k for k in sorted(RELATIONS) if Scene.inside_workspace(self._spot(ref_xy, k), 0.03)]
        self.relation = keys[int(rng.integers(len(keys)))]
        scene.add_keepout(self._spot(ref_xy, self.relation), 0.04)
        self.target = scene.spawn(specs[0], rng)
        for spec in specs[2:]:
            scene.spawn(spec, rng)
        phrases = RELATIONS[self.relation][0]
        return self.template(
            rng,
            obj=self.target.spec.name,
            ref=self.ref.spec.name,
            relation=phrases[int(rng.integers(len(phrases)))],
        )

    @staticmethod
    def _spot(ref_xy: np.ndarray, relation: str) -> np.ndarray:
        return ref_xy + 0.08 * np.asarray(RELATIONS[relation][1])

    def subgoals(self, scene: Scene) -> list[bool]:
        """Which sub-goals hold now (see the class docstring)."""
        offset = scene.position(self.target)[:2] - scene.position(self.ref)[:2]
        direction = np.asarray(RELATIONS[self.relation][1])
        along = float(offset @ direction)
        across = abs(float(offset[0] * direction[1] - offset[1] * direction[0]))
        return [
            0.03 <= along <= 0.14
            and across <= self.position_tolerance
            and scene.resting_on_table(self.target)
        ]

    def destination(self, scene: Scene) -> np.ndarray:
        """World (x, y) where the expert puts the target."""
        return self._spot(scene.position(self.ref)[:2], self.relation)
