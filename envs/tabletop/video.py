"""Save a list of RGB frames as a GIF or an MP4 (imageio; MP4 through imageio-ffmpeg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rlft.errors import ConfigError, DependencyError, require


def save_video(frames: Sequence[np.ndarray], path: str | Path, fps: int = 4) -> Path:
    """Write ``frames`` (uint8 H x W x 3, all the same size) to ``path``; the suffix picks the format.

    Args:
        frames: The frames, e.g. ``env.render()`` after every step of an episode.
        path: Output file ending in ``.gif`` or ``.mp4``.
        fps: Frames per second.

    Returns:
        The path written.

    Raises:
        ConfigError: for an empty frame list, mismatched frame sizes or another suffix.
        DependencyError: when MP4 is asked for and imageio-ffmpeg is missing.

    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ConfigError(f"path={str(path)!r}: use a file name ending in .gif or .mp4")
    if not frames:
        raise ConfigError("frames is empty: collect env.render() outputs before saving a video")
    shapes = {np.asarray(f).shape for f in frames}
    if len(shapes) != 1:
        raise ConfigError(f"all frames must have the same shape, got {sorted(shapes)}")
    imageio = require("imageio.v2", "saving videos")  # imported here: only video saving needs it

    path.parent.mkdir(parents=True, exist_ok=True)
    data = [np.asarray(f, dtype=np.uint8) for f in frames]
    if suffix == ".gif":
        imageio.mimsave(path, data, duration=1000.0 / fps, loop=0)
        return path
    try:
        import imageio_ffmpeg  # noqa: F401  (checks the MP4 writer is installed)
    except ImportError as exc:
        raise DependencyError("MP4 output needs imageio-ffmpeg: pip install 'imageio[ffmpeg]'") from exc
    # H.264 wants even sizes; macro_block_size=1 keeps the frames as they are.
    imageio.mimsave(path, data, fps=fps, macro_block_size=1)
    return path
