"""The methods a study compares: :data:`METHODS`, and :func:`register_method` to add one.

A method is a name, the stages it runs in order (``bc``, ``rl``, ``rm``; the runner maps each stage name to a
function, see :func:`rlft.agents.study.runner.register_stage`) and whether it learns from
demonstrations. A new method (best-of-N search over a reward model, say) is one :func:`register_method`
call plus, when it needs one, a :func:`~rlft.agents.study.runner.register_stage` call for its stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlft.errors import ConfigError

__all__ = ["METHODS", "Method", "register_method"]


@dataclass(frozen=True)
class Method:
    """A way of producing a policy from (possibly) demonstrations and env interaction."""

    name: str
    """Name in configs, folders and the CSV (``bc+rl``)."""
    stages: tuple[str, ...]
    """Stages run in order; each continues from the policy the previous one produced."""
    uses_demos: bool
    """Whether it learns from demonstrations (run at every demos count) or not (demos = 0)."""
    description: str = ""
    """One line for the docs."""


METHODS: dict[str, Method] = {}
"""The methods a study can sweep, by name."""


def register_method(method: Method, *, overwrite: bool = False) -> Method:
    """Add ``method`` to :data:`METHODS` (its stages must be registered with the runner before it runs).

    Raises:
        ConfigError: the name is taken (and ``overwrite`` is off) or the method has no stage.
    """
    if not method.stages:
        raise ConfigError(f"Method {method.name!r} has no stage.")
    if method.name in METHODS and METHODS[method.name] != method and not overwrite:
        raise ConfigError(f"A study method {method.name!r} is already registered; pass overwrite=True.")
    METHODS[method.name] = method
    return method


register_method(Method("bc", ("bc",), True, "behaviour cloning on the demonstrations"))
register_method(Method("bc+rl", ("bc", "rl"), True, "behaviour cloning, then PPO with a BC anchor"))
register_method(
    Method("rl", ("rl",), False, "PPO from the (pretrained or scratch) backbone, no demonstrations")
)
register_method(
    Method(
        "best-of-n",
        ("bc", "rm"),
        True,
        "behaviour cloning, then best-of-N sampling ranked by a reward model learned from oracle "
        "comparisons of the BC policy's samples",
    )
)
