"""Rigid transforms in numpy (quaternions are x, y, z, w like pybullet's)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # type-only: the sim module imports pybullet, these functions need only numpy
    from rlft.envs.tabletop.sim import Vector

Pose = tuple[np.ndarray, np.ndarray]
"""(position (3,), quaternion (4,) x y z w)."""


def quat_multiply(a: Vector, b: Vector) -> np.ndarray:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def quat_conjugate(q: Vector) -> np.ndarray:
    """Inverse of a unit quaternion."""
    return np.array([-q[0], -q[1], -q[2], q[3]])


def quat_rotate(q: Vector, v: Vector) -> np.ndarray:
    """Rotate vector ``v`` by unit quaternion ``q``."""
    qv = np.array([v[0], v[1], v[2], 0.0])
    return quat_multiply(quat_multiply(q, qv), quat_conjugate(q))[:3]


def quat_from_yaw(yaw: float) -> np.ndarray:
    """Rotation about world z."""
    return np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])


def yaw_of(q: Vector) -> float:
    """Yaw (rotation about z, ZYX Euler convention) of a quaternion."""
    x, y, z, w = q
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def down_quat(yaw: float) -> np.ndarray:
    """Orientation of a tool pointing straight down (roll pi), turned by ``yaw`` about world z."""
    return quat_multiply(quat_from_yaw(yaw), [1.0, 0.0, 0.0, 0.0])


def pose_multiply(a: Pose, b: Pose) -> Pose:
    """Compose poses: ``b`` expressed in ``a``'s frame, returned in the world."""
    return np.asarray(a[0]) + quat_rotate(a[1], b[0]), quat_multiply(a[1], b[1])


def pose_inverse(a: Pose) -> Pose:
    """Inverse of a pose."""
    inv = quat_conjugate(a[1])
    return -quat_rotate(inv, a[0]), inv
