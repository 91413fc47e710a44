"""The ``rlft`` command line.

Sub-commands: ``envs`` lists the registered environments; ``collect`` records expert demonstrations;
``train bc`` / ``train rl`` train policies; ``eval`` evaluates a policy or a baseline; ``demo`` runs the
whole recipe. Each sub-command is a small function that parses its own arguments and calls the
documented Python API; none hides logic of its own. The ``train`` flags are generated from the fields
of :class:`rlft.agents.BCConfig` / :class:`rlft.agents.RLConfig`, so the CLI and the API cannot drift.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import json
import logging
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from rlft import __version__
from rlft.errors import ConfigError, RlftError

Handler = Callable[[argparse.Namespace], int]


def _cmd_envs(args: argparse.Namespace) -> int:
    from rlft.envs import describe_envs

    descriptions = describe_envs()
    width = max((len(env_id) for env_id in descriptions), default=0)
    for env_id, description in descriptions.items():
        if args.filter and args.filter.lower() not in env_id.lower():
            continue
        print(f"{env_id:<{width}}  {description}")
    return 0


def _key_values(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` flags; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: write KEY=VALUE, e.g. {flag} max_candidates=32.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


_FLAG_ALIASES: dict[str, tuple[str, ...]] = {
    "out_dir": ("--out",),
    "init_policy": ("--init",),
    "total_timesteps": ("--timesteps",),
}
"""Short spellings accepted next to the generated ``--field-name`` flags."""


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field (the convention rlft configs follow)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        documented = isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        if documented and isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            docs[node.target.id] = " ".join(str(nxt.value.value).replace("``", "").split())
    return docs


def _add_config_flags(parser: argparse.ArgumentParser, cls: type, positional: Sequence[str] = ()) -> None:
    """One flag per field of the config dataclass ``cls`` (``dict`` fields take repeated KEY=VALUE)."""
    hints = typing.get_type_hints(cls)
    docs = _field_docs(cls)
    for f in dataclasses.fields(cls):
        hint, help_text = hints[f.name], docs.get(f.name, "").replace("%", "%%")
        flag = "--" + f.name.replace("_", "-")
        flags = (*_FLAG_ALIASES.get(f.name, ()), flag)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name in positional:
            parser.add_argument(f.name, help=help_text)
        elif hint is bool:
            parser.add_argument(
                *flags, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=help_text
            )
        elif typing.get_origin(hint) is dict:
            # policy_kwargs -> repeated --policy-kwarg KEY=VALUE
            parser.add_argument(
                flag.removesuffix("s"), dest=f.name, action="append", metavar="KEY=VALUE", help=help_text
            )
        else:
            kind = next((t for t in (int, float, str) if t is hint or t in typing.get_args(hint)), str)
            default = None if required else f.default
            parser.add_argument(
                *flags, dest=f.name, type=kind, default=default, required=required, help=help_text
            )


def _config_from_args(cls: type, args: argparse.Namespace) -> Any:
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name)
        if typing.get_origin(hints[f.name]) is dict:
            value = _key_values(value, "--" + f.name.replace("_", "-").removesuffix("s"))
        values[f.name] = value
    return cls(**values)


def _cmd_collect(args: argparse.Namespace) -> int:
    from rlft.demos import collect_demos

    result = collect_demos(
        args.env_id,
        args.episodes,
        out=args.out,
        split=None if args.split == "default" else args.split,
        seed=args.seed,
        min_return=args.min_return,
        keep_failures=args.keep_failures,
        max_attempts=args.max_attempts,
        env_kwargs=_key_values(args.env_kwarg, "--env-kwarg"),
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(
        f"kept {result.kept}/{result.attempted} expert episodes ({result.steps} steps, "
        f"expert mean return {result.mean_return:.3f}) -> {result.path}"
    )
    return 0


def _cmd_train_bc(args: argparse.Namespace) -> int:
    from rlft.agents import BCConfig, train_bc

    result = train_bc(_config_from_args(BCConfig, args))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
    print(f"BC: {result.steps} steps (resumed from {result.resumed_from}) {metrics} -> {result.policy_dir}")
    return 0


def _cmd_train_rl(args: argparse.Namespace) -> int:
    from rlft.agents import RLConfig, train_rl

    result = train_rl(_config_from_args(RLConfig, args))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
    print(
        f"RL: {result.timesteps} steps (resumed from {result.resumed_from}) {metrics} -> {result.policy_dir}"
    )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from rlft.agents import ExpertAgent, PolicyAgent, RandomAgent, evaluate, load_agent_policy

    if (args.policy is None) == (args.agent is None):
        raise ConfigError("Pass exactly one of --policy DIR or --agent random|expert.")
    if args.policy is not None:
        agent: Any = PolicyAgent(load_agent_policy(args.policy), name=args.name or "policy")
    else:
        agent = RandomAgent() if args.agent == "random" else ExpertAgent()
    report = evaluate(
        agent,
        args.env_ids,
        [None if s == "default" else s for s in args.split],
        report_path=args.report,
        episodes=args.episodes,
        seed=args.seed,
        max_steps=args.max_steps,
        confidence=args.confidence,
        record_dir=args.record,
        record_episodes=args.record_episodes,
        progress=args.progress,
    )
    print(report.table())
    if args.report:
        print(f"report -> {args.report}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from rlft.agents.demo import DEMO_SUITES, run_demo

    result = run_demo(
        DEMO_SUITES[args.suite],
        out_dir=args.out,
        quick=args.quick,
        backbone=args.backbone,
        progress=args.progress,
    )
    print(result.table())
    print(f"report -> {result.report_path}")
    return 0


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars"
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``rlft`` command."""
    from rlft.agents.bc import BCConfig
    from rlft.agents.rl import RLConfig

    parser = argparse.ArgumentParser(
        prog="rlft",
        description="Gymnasium environments and pretrained-backbone agents: imitation, then RL fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"rlft {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list the registered environment ids with a one-line description")
    envs.add_argument("filter", nargs="?", default="", help="only ids containing this text")
    envs.set_defaults(handler=_cmd_envs)

    collect = sub.add_parser("collect", help="record expert demonstrations as a Minari dataset")
    collect.add_argument("env_id", help="environment id, e.g. rlft/WebShop-v0")
    collect.add_argument(
        "--episodes", type=int, default=100, help="successful episodes to keep (default 100)"
    )
    collect.add_argument(
        "--out", help="dataset folder (default: $MINARI_DATASETS_PATH/rlft/<Name>-<split>-expert-v0)"
    )
    collect.add_argument(
        "--split", default="train", help="goal split (default train; 'default' = the env's own)"
    )
    collect.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i")
    collect.add_argument("--min-return", type=float, default=0.99, help="keep episodes with return >= this")
    collect.add_argument("--keep-failures", action="store_true", help="keep unsuccessful episodes too")
    collect.add_argument(
        "--max-attempts", type=int, help="give up after this many episodes (default 3 x --episodes)"
    )
    collect.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="extra gym.make kwarg")
    collect.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    _add_progress(collect)
    collect.set_defaults(handler=_cmd_collect)

    train = sub.add_parser(
        "train", help="train a policy: `train bc` (imitation) or `train rl` (PPO fine-tuning)"
    )
    train_sub = train.add_subparsers(dest="algorithm_kind", metavar="KIND", required=True)
    bc = train_sub.add_parser("bc", help="behaviour cloning on a demonstration dataset")
    _add_config_flags(bc, BCConfig)
    bc.set_defaults(handler=_cmd_train_bc, progress=True)
    rl = train_sub.add_parser("rl", help="PPO / MaskablePPO fine-tuning from a BC policy")
    _add_config_flags(rl, RLConfig, positional=("env_id",))
    rl.set_defaults(handler=_cmd_train_rl, progress=True)

    ev = sub.add_parser("eval", help="success rate, reward and length with confidence intervals")
    ev.add_argument("env_ids", nargs="+", metavar="ENV_ID", help="environment ids")
    ev.add_argument("--policy", help="saved policy folder (a run's best/ or policy/)")
    ev.add_argument("--agent", choices=("random", "expert"), help="evaluate a baseline instead of a policy")
    ev.add_argument("--name", help="agent name in the report (default: policy)")
    ev.add_argument(
        "--split", nargs="+", default=["test"], help="goal splits (default test; 'default' = the env's)"
    )
    ev.add_argument("--episodes", type=int, default=50, help="episodes per env and split (default 50)")
    ev.add_argument("--seed", type=int, default=1000, help="episode i resets with seed + i (default 1000)")
    ev.add_argument("--max-steps", type=int, help="cap on steps per episode")
    ev.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    ev.add_argument("--report", help="write the JSON report here")
    ev.add_argument("--record", help="save the first episodes here (GIF for tabletop, Markdown for web)")
    ev.add_argument("--record-episodes", type=int, default=2, help="episodes to save per env and split")
    _add_progress(ev)
    ev.set_defaults(handler=_cmd_eval)

    demo = sub.add_parser("demo", help="collect, BC, RL, evaluate; print random / BC / BC+RL / expert")
    demo.add_argument("--suite", choices=("web", "tabletop"), default="web", help="web (WebShop) or tabletop")
    demo.add_argument("--out", default="rlft-demo", help="working folder (default ./rlft-demo)")
    demo.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test, not the real table)")
    demo.add_argument(
        "--backbone", help="replace the suite's backbone (default: minilm / minilm+efficientnet)"
    )
    _add_progress(demo)
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rlft`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except RlftError as err:
        print(f"rlft {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
