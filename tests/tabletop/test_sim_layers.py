"""The lower layers on their own: simulation clients, cameras, objects and regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rlft.envs.tabletop.camera import CAMERAS, fuse_heightmap
from rlft.envs.tabletop.objects import REGIONS, make_bowl, make_object, uv_to_world, world_to_uv
from rlft.envs.tabletop.sim import Shape, Simulation


def test_two_simulations_in_one_process_are_independent_and_restorable():
    a, b = Simulation(), Simulation()
    try:
        assert a.client != b.client
        floor = [Shape("box", (0.5, 0.5, 0.01))]
        for sim in (a, b):
            sim.create_body(floor, (1, 1, 1, 1), (0, 0, -0.01))
        cube = a.create_body([Shape("box", (0.02, 0.02, 0.02))], (1, 0, 0, 1), (0, 0, 0.2), mass=0.1)
        state = a.save_state()
        a.step(120)
        assert a.pose(cube)[0][2] < 0.05  # it fell onto the floor
        assert b.steps_taken == 0
        a.restore_state(state)
        assert a.pose(cube)[0][2] == pytest.approx(0.2)
    finally:
        a.close()
        b.close()
        a.close()


def test_settle_stops_early_when_the_scene_is_still():
    sim = Simulation()
    try:
        sim.create_body([Shape("box", (0.5, 0.5, 0.01))], (1, 1, 1, 1), (0, 0, -0.01))
        cube = sim.create_body([Shape("box", (0.02, 0.02, 0.02))], (1, 0, 0, 1), (0, 0, 0.0201), mass=0.1)
        assert sim.settle([cube], max_steps=240, check_every=8) <= 24
    finally:
        sim.close()


def test_depth_back_projects_to_the_table_plane():
    sim = Simulation()
    try:
        sim.create_body([Shape("box", (1.0, 1.0, 0.01))], (1, 1, 1, 1), (0.5, 0, -0.01))
        for cam in CAMERAS.values():
            view, proj = cam.gl_matrices(64, 48)
            _, buffer = sim.render(64, 48, view, proj)
            points = cam.points(cam.depth_from_buffer(buffer))
            # Every pixel sees the table top (z = 0), also at grazing angles.
            assert np.abs(points[..., 2]).max() < 1e-3
    finally:
        sim.close()


def test_heightmap_keeps_the_highest_point_per_cell():
    points = np.array([[[0.1, 0.1, 0.02], [0.1, 0.1, 0.05], [0.9, 0.9, 0.03]]])
    colors = np.array([[[10, 10, 10], [200, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    hm, cm = fuse_heightmap([(points, colors)], (0.0, 1.0), (0.0, 1.0), (2, 2))
    assert hm[0, 0] == pytest.approx(0.05) and tuple(cm[0, 0]) == (200, 0, 0)
    assert hm[1, 1] == pytest.approx(0.03) and hm[0, 1] == 0.0


def test_normalised_coordinates_round_trip_and_regions_tile_the_workspace():
    for u, v in [(-1, -1), (0.3, -0.2), (1, 1)]:
        assert world_to_uv(uv_to_world(u, v)) == pytest.approx((u, v))
    assert len(REGIONS) == 9
    rng = np.random.default_rng(0)
    for u, v in rng.uniform(-0.99, 0.99, size=(50, 2)):
        assert sum(region.contains(uv_to_world(u, v)) for region in REGIONS.values()) == 1
    assert REGIONS["top_left"].contains(uv_to_world(-0.9, -0.9))


def test_object_specs_are_named_and_sized():
    block = make_object("block", "red", "large")
    assert block.name == "red block" and block.half_extents[0] == pytest.approx(0.024)
    assert block.symmetry == pytest.approx(math.pi / 2)
    bowl = make_bowl("green")
    assert not bowl.movable and bowl.mass == 0.0 and len(bowl.shapes) > 10
    with pytest.raises(ValueError, match="unknown object kind"):
        make_object("sphere", "red")
