"""rlft.envs.web: a text web browser over local, procedurally generated sites."""
