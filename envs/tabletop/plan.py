"""The expert's plan type: one pick-and-place move in world coordinates.

It lives below the tasks (which produce plans) so that the controller (which executes them) needs no task.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlft.envs.tabletop.objects import wrap_angle
from rlft.envs.tabletop.scene import Scene, SceneObject
from rlft.envs.tabletop.sim import Vector


@dataclass(frozen=True)
class Plan:
    """One pick-and-place move in world coordinates.

    Attributes:
        pick_xy: Where the suction cup goes down.
        pick_yaw: Cup yaw at the pick.
        place_xy: Where the held object's centre goes.
        place_yaw: Cup yaw at the place; the object turns by ``place_yaw - pick_yaw``.

    """

    pick_xy: tuple[float, float]
    pick_yaw: float
    place_xy: tuple[float, float]
    place_yaw: float

    @classmethod
    def move(cls, scene: Scene, obj: SceneObject, place_xy: Vector, target_yaw: float | None = None) -> Plan:
        """Move ``obj`` from where it is to ``place_xy``, turning it to ``target_yaw`` (if given).

        The turn is split evenly between pick and place so the cup's yaw stays within +-pi/2.
        """
        turn = 0.0
        if target_yaw is not None and obj.spec.symmetry > 0:
            turn = wrap_angle(target_yaw - scene.yaw(obj))
            sym = obj.spec.symmetry
            turn = (turn + sym / 2) % sym - sym / 2  # the smallest equivalent turn
        top = scene.top(obj)
        return cls(
            (float(top[0]), float(top[1])), -turn / 2, (float(place_xy[0]), float(place_xy[1])), turn / 2
        )
