"""Tabletop task families: goals, instructions, rewards and experts."""
