"""Cameras in plain numpy: intrinsics/extrinsics, OpenGL matrices, depth conversion, heightmap fusion.

Matrices follow OpenGL conventions (what pybullet's renderer expects, flattened column-major), so this
module needs no pybullet. The heightmap is CLIPort-style: every camera's depth image is back-projected
to a world point cloud and the points are binned, highest point winning, into a top-down grid over the
table workspace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraConfig:
    """A pinhole camera looking at the table.

    Attributes:
        eye: Camera position (world, metres).
        target: The point it looks at.
        up: World direction that appears upwards in the image.
        fov: Vertical field of view in degrees.
        near: Near clipping plane (metres).
        far: Far clipping plane (metres).

    """

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    fov: float = 45.0
    near: float = 0.05
    far: float = 2.5

    def view_matrix(self) -> np.ndarray:
        """World-to-camera 4x4 matrix (OpenGL: the camera looks down its -z axis)."""
        eye, target, up = (np.asarray(v, dtype=np.float64) for v in (self.eye, self.target, self.up))
        forward = target - eye
        forward /= np.linalg.norm(forward)
        side = np.cross(forward, up)
        side /= np.linalg.norm(side)
        true_up = np.cross(side, forward)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = side, true_up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view

    def projection_matrix(self, aspect: float) -> np.ndarray:
        """OpenGL perspective projection for a width/height ``aspect``."""
        f = 1.0 / math.tan(math.radians(self.fov) / 2.0)
        n, fa = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0] = f / aspect
        proj[1, 1] = f
        proj[2, 2] = (fa + n) / (n - fa)
        proj[2, 3] = 2.0 * fa * n / (n - fa)
        proj[3, 2] = -1.0
        return proj

    def gl_matrices(self, width: int, height: int) -> tuple[list[float], list[float]]:
        """View and projection matrices flattened column-major, as pybullet's renderer takes them."""
        view = self.view_matrix().flatten(order="F").tolist()
        proj = self.projection_matrix(width / height).flatten(order="F").tolist()
        return view, proj

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """3x3 pinhole intrinsics matrix K (pixels) for an image of the given size."""
        fy = (height / 2.0) / math.tan(math.radians(self.fov) / 2.0)
        return np.array([[fy, 0.0, width / 2.0], [0.0, fy, height / 2.0], [0.0, 0.0, 1.0]])

    def depth_from_buffer(self, buffer: np.ndarray) -> np.ndarray:
        """Convert an OpenGL depth buffer (values in [0, 1]) to metric distance along the optical axis."""
        n, fa = self.near, self.far
        depth = fa * n / (fa - (fa - n) * buffer.astype(np.float64))
        return np.clip(depth, n, fa).astype(np.float32)

    def points(self, depth: np.ndarray) -> np.ndarray:
        """Back-project a metric depth image to world points, shape (H, W, 3)."""
        height, width = depth.shape
        k = self.intrinsics(width, height)
        # TinyRenderer samples column c at c + 0.5 but row r at r + 1 (its raster is flipped vertically);
        # with these offsets a rendered plane back-projects onto itself to within 1e-5 m (tested).
        cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 1.0)
        z = depth.astype(np.float64)
        # Camera frame of OpenGL: x right, y up, looking down -z.
        x = (cols - k[0, 2]) / k[0, 0] * z
        y = -(rows - k[1, 2]) / k[1, 1] * z
        cam = np.stack([x, y, -z, np.ones_like(z)], axis=-1)
        world = cam @ np.linalg.inv(self.view_matrix()).T
        return world[..., :3]


CAMERAS: dict[str, CameraConfig] = {
    # The viewer stands in front of the table, facing the robot: image right is world +y.
    "front": CameraConfig(eye=(0.95, 0.0, 0.55), target=(0.47, 0.0, 0.0), up=(0.0, 0.0, 1.0), fov=40.0),
    # Straight down; the robot's side of the table is at the top of the image, like the heightmap.
    "top": CameraConfig(eye=(0.5, 0.0, 1.05), target=(0.5, 0.0, 0.0), up=(-1.0, 0.0, 0.0), fov=38.0),
}
"""Named observation cameras (the ``camera`` kwarg)."""


def fuse_heightmap(
    clouds: Sequence[tuple[np.ndarray, np.ndarray]],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    shape: tuple[int, int],
    table_height: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse coloured point clouds into a top-down heightmap and colour map.

    Rows run along world x (row 0 at ``x_range[0]``, the robot's side), columns along world y (column 0
    at ``y_range[0]``, the viewer's left), matching the normalised action coordinates.

    Args:
        clouds: (points (H, W, 3), colours (H, W, 3) uint8) pairs, one per camera.
        x_range: World x covered by the rows.
        y_range: World y covered by the columns.
        shape: (rows, cols) of the output.
        table_height: z of the table surface; heights are measured from it.

    Returns:
        ``heightmap`` float32 (rows, cols) in metres above the table (0 where nothing was seen) and
        ``colormap`` uint8 (rows, cols, 3).

    """
    rows, cols = shape
    heightmap = np.zeros(shape, dtype=np.float32)
    colormap = np.zeros((rows, cols, 3), dtype=np.uint8)
    pts = np.concatenate([p.reshape(-1, 3) for p, _ in clouds])
    rgb = np.concatenate([c.reshape(-1, 3) for _, c in clouds])
    r = np.floor((pts[:, 0] - x_range[0]) / (x_range[1] - x_range[0]) * rows).astype(np.int64)
    c = np.floor((pts[:, 1] - y_range[0]) / (y_range[1] - y_range[0]) * cols).astype(np.int64)
    h = pts[:, 2] - table_height
    keep = (r >= 0) & (r < rows) & (c >= 0) & (c < cols) & (h > -0.01)
    r, c, h, rgb = r[keep], c[keep], h[keep], rgb[keep]
    # Later writes win in numpy fancy assignment, so writing in ascending height keeps the highest point.
    order = np.argsort(h, kind="stable")
    heightmap[r[order], c[order]] = np.maximum(h[order], 0.0)
    colormap[r[order], c[order]] = rgb[order]
    return heightmap, colormap
