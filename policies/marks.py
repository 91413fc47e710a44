"""Values of the ``obs_query`` array: which observation tokens are the instruction and which the history.

Shared by the encoder that writes them (:mod:`rlft.policies.observations`) and the heads that read them
(:mod:`rlft.policies.heads`); heads that only need "instruction or history" test ``> 0``.
"""

from __future__ import annotations

__all__ = ["HISTORY_MARK", "INSTRUCTION_MARK"]

INSTRUCTION_MARK = 1
"""``obs_query`` value of an instruction token."""
HISTORY_MARK = 2
"""``obs_query`` value of a history token."""
