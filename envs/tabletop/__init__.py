"""rlft.envs.tabletop: language-conditioned pick-and-place on PyBullet."""
