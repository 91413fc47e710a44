"""The ``rlft`` command line.

Sub-commands: ``envs`` lists the registered environments; ``collect`` records demonstrations;
``compare`` rolls out and rates pairs of episodes, ``label`` serves the page where people rate them;
``train bc`` / ``train rl`` train policies and ``train rm`` a reward model; ``eval`` evaluates a policy or
a baseline; ``demo`` runs the whole recipe; ``study`` sweeps it. Each sub-command's flags are generated from
the fields (and field docstrings) of its config dataclass (:class:`rlft.agents.CollectConfig`,
``CompareConfig``, ``BCConfig``, ``RLConfig``, ``RMConfig``, ``EvalConfig``, ``DemoConfig``, ``StudyArgs``,
:class:`rlft.demos.label.LabelConfig`), so the CLI and the Python API cannot drift; each handler only builds
the config and calls the documented function. Errors rlft raises exit with status 2, an
interrupted run with 130.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import json
import logging
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
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


_FLAG_NAMES: dict[str, str] = {
    "out_dir": "--out",
    "env_kwargs": "--env-kwarg",
    "policy_kwargs": "--policy-kwarg",
    "reward_kwargs": "--reward-kwarg",
}
"""Flags spelled other than ``--field-name`` (one spelling each)."""

_NEGATIVE_FLAGS: dict[str, tuple[str, str]] = {
    "sample": ("--greedy", "Act greedily (argmax): the same as --no-sample, and the default."),
}
"""Boolean fields with a second, named spelling of ``--no-FIELD`` (flag, help)."""

_OPTIONAL_VALUE: dict[str, str] = {"ray": "local"}
"""Flags whose value may be left out, and the value they then take (``--ray`` alone: a local Ray)."""

_EXTRA_HELP: dict[str, str] = {
    "env_kwargs": (
        "Repeat --env-kwarg KEY=VALUE; VALUE is parsed as the type the env declares: bool true/false "
        "(also 1/0, yes/no, on/off), int, float, tuple 640,480 or (640,480), none for optional kwargs, "
        "e.g. --env-kwarg heightmap=true (tabletop) or --env-kwarg max_steps=20."
    ),
    "policy_kwargs": "Repeat --policy-kwarg KEY=VALUE; VALUE is JSON when it parses as JSON, else text.",
    "reward_kwargs": "Repeat --reward-kwarg KEY=VALUE; VALUE is JSON when it parses as JSON, else text.",
}

_MARKUP = re.compile(r":[a-z]+:`~?([^`]*)`|``([^`]*)``|`([^`]*)`")


def _plain(text: str) -> str:
    """Docstring text without Sphinx markup, on one line."""
    return " ".join(_MARKUP.sub(lambda m: next(g for g in m.groups() if g is not None), text).split())


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field, over the class and its bases (rlft's convention)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


@functools.cache
def _own_field_docs(klass: type) -> dict[str, str]:
    """The field docstrings written in ``klass`` itself (each shared config part is parsed once)."""
    docs: dict[str, str] = {}
    tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in itertools.pairwise(body):
        documented = isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
        if documented and isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            docs[node.target.id] = _plain(str(nxt.value.value))
    return docs


def _default_text(name: str, default: Any) -> str:
    if name == "progress" and default is None:
        return "auto"
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default)


def _scalar_type(hint: Any) -> type:
    return next((t for t in (int, float, str) if t is hint or t in typing.get_args(hint)), str)


def add_config_flags(
    parser: argparse.ArgumentParser, cls: type, positional: Mapping[str, str | None] | None = None
) -> None:
    """One flag per field of the config dataclass ``cls``, its docstring as help, its default shown.

    Args:
        parser: the sub-command's parser.
        cls: the config dataclass.
        positional: fields taken as positional arguments, with their ``nargs`` (``None``: exactly one).
    """
    positional = dict(positional or {})
    hints = typing.get_type_hints(cls)
    docs = _field_docs(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        help_text = docs.get(f.name, "")
        if f.name in _EXTRA_HELP:
            help_text = f"{help_text} {_EXTRA_HELP[f.name]}"
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required or f.default is dataclasses.MISSING else f.default
        if f.name in positional:
            parser.add_argument(f.name, nargs=positional[f.name], help=help_text.replace("%", "%%"))
            continue
        if f.name == "split" and default is None:
            default = getattr(cls, "DEFAULT_SPLIT", None)
        if not required and typing.get_origin(hint) is not dict:
            help_text += f" (default: {_default_text(f.name, default)})"
        help_text = help_text.replace("%", "%%")
        flag = _FLAG_NAMES.get(f.name, "--" + f.name.replace("_", "-"))
        if hint is bool or hint == (bool | None):
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
            if f.name in _NEGATIVE_FLAGS:
                negative, negative_help = _NEGATIVE_FLAGS[f.name]
                parser.add_argument(negative, dest=f.name, action="store_false", help=negative_help)
        elif typing.get_origin(hint) is dict:
            parser.add_argument(flag, dest=f.name, action="append", metavar="KEY=VALUE", help=help_text)
        elif f.name in _OPTIONAL_VALUE:
            parser.add_argument(
                flag, dest=f.name, nargs="?", const=_OPTIONAL_VALUE[f.name], default=default, help=help_text
            )
        else:
            parser.add_argument(
                flag, dest=f.name, type=_scalar_type(hint), default=default, required=required, help=help_text
            )


def _json_or_text(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: write KEY=VALUE, e.g. {flag} head_hidden=128.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def config_from_args(cls: type, args: argparse.Namespace, env_id: str | None = None) -> Any:
    """Build ``cls`` from parsed flags; ``--env-kwarg`` values are parsed against ``env_id``'s kwargs."""
    from rlft.demos.envs import parse_env_kwargs

    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name)
        if f.name == "env_kwargs":
            if not value:
                value = {}
            elif env_id is None:
                raise ConfigError("--env-kwarg needs the environment id: pass ENV_ID.")
            else:
                value = parse_env_kwargs(env_id, value)
        elif typing.get_origin(hints[f.name]) is dict:
            value = _json_or_text(value, _FLAG_NAMES.get(f.name, f.name))
        elif isinstance(value, list) and f.name == "env_id":
            value = value[0] if value else None
        values[f.name] = value
    return cls(**values)


def _recorded_env_id(args: argparse.Namespace) -> str | None:
    """The env id given on the command line, else the one the ``--policy`` folder records."""
    from rlft.agents.policy_io import read_env_record

    given = args.env_id[0] if isinstance(args.env_id, list) and args.env_id else args.env_id
    if given:
        return str(given)
    policy = getattr(args, "policy", None)
    return read_env_record(policy).get("env_id") if policy else None


def _cmd_collect(args: argparse.Namespace) -> int:
    from rlft.agents.collect import CollectConfig, run_collect

    result = run_collect(config_from_args(CollectConfig, args, args.env_id))
    print(
        f"kept {result.kept}/{result.attempted} episodes ({result.steps} steps, "
        f"mean return {result.mean_return:.3f}) -> {result.path} ({result.dataset_id})"
    )
    return 0


def _cmd_train_bc(args: argparse.Namespace) -> int:
    from rlft.agents import BCConfig, train_bc

    result = train_bc(config_from_args(BCConfig, args))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
    print(f"BC: {result.steps} steps (resumed from {result.resumed_from}) {metrics} -> {result.policy_dir}")
    return 0


def _cmd_train_rl(args: argparse.Namespace) -> int:
    from rlft.agents import RLConfig, train_rl

    result = train_rl(config_from_args(RLConfig, args, _recorded_env_id(args)))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
    resumed = f"resumed from {result.resumed_from}"
    print(f"RL: {result.timesteps} env steps ({resumed}) {metrics} -> {result.policy_dir}")
    return 0


def _cmd_train_rm(args: argparse.Namespace) -> int:
    from rlft.agents.rm import RMConfig, train_rm

    result = train_rm(config_from_args(RMConfig, args))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
    print(f"RM: {result.steps} steps (resumed from {result.resumed_from}) {metrics} -> {result.model_dir}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from rlft.agents.evaluate import EvalConfig, run_eval
    from rlft.agents.policy_io import expand_env_ids

    # Several ids, groups (all-web, all-forms, all-tabletop, trained), or none: a multi-task policy's ids.
    ids = [i for i in expand_env_ids(list(args.env_id or []), args.policy) if i]
    args.env_id = ids[:1]
    config = config_from_args(EvalConfig, args, _recorded_env_id(args))
    report = run_eval(config, ids[1:])
    print(report.table())
    if config.out_dir is not None:
        print(f"report -> {Path(config.out_dir) / 'report.json'}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from rlft.agents.compare import CompareConfig, run_compare

    config = config_from_args(CompareConfig, args, _recorded_env_id(args))
    result = run_compare(config)
    ties = f", {result.ties} ties" if config.rater == "oracle" else ""
    print(
        f"{result.pairs} pairs ({result.new_pairs} new{ties}; mean true score A {result.mean_score_a:.3f}, "
        f"B {result.mean_score_b:.3f}) -> {result.comparisons_file}"
    )
    if result.unlabelled:
        print(f"{result.unlabelled} pairs wait for a label: rlft label {result.out_dir}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    from rlft.demos.label import LabelConfig, serve_labels

    serve_labels(config_from_args(LabelConfig, args), announce=print)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from rlft.agents.demo import DemoConfig, run_demo_config

    result = run_demo_config(config_from_args(DemoConfig, args))
    print(result.table())
    print(f"report -> {result.report_path}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from rlft.agents.study.config import StudyArgs
    from rlft.agents.study.runner import plan_study, run_study

    config = config_from_args(StudyArgs, args).to_study()
    if args.plan:
        print(plan_study(config))
        return 0
    result = run_study(config)
    print(result.table)
    print(f"{len(result.cells)} cells in {result.seconds:.0f} s -> {result.out_dir}")
    for name, path in result.outputs.items():
        print(f"  {name}: {path}")
    for key, error in result.failed.items():
        print(f"rlft study: {key} failed: {error}", file=sys.stderr)
    return 1 if result.failed else 0


def _verbosity() -> argparse.ArgumentParser:
    """``-v`` accepted after the sub-command too (it adds to the count given before it)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-v info, -vv debug)"
    )
    return parent


def _description(cls: type) -> str:
    return _plain(inspect.getdoc(cls) or "")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``rlft`` command."""
    from rlft.agents.bc import BCConfig
    from rlft.agents.collect import CollectConfig
    from rlft.agents.compare import CompareConfig
    from rlft.agents.demo import DemoConfig
    from rlft.agents.evaluate import EvalConfig
    from rlft.agents.rl import RLConfig
    from rlft.agents.rm import RMConfig
    from rlft.agents.study.config import StudyArgs
    from rlft.demos.label import LabelConfig

    parser = argparse.ArgumentParser(
        prog="rlft",
        description="Gymnasium environments and pretrained-backbone agents: imitation, then RL fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"rlft {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [_verbosity()]

    def add(subparsers: Any, name: str, help_text: str, cls: type | None = None) -> argparse.ArgumentParser:
        return subparsers.add_parser(
            name, help=help_text, description=_description(cls) if cls else help_text, parents=common
        )

    envs = add(sub, "envs", "list the registered environment ids with a one-line description")
    envs.add_argument("filter", nargs="?", default="", help="only ids containing this text")
    envs.set_defaults(handler=_cmd_envs)

    collect = add(
        sub, "collect", "record demonstrations (expert, policy or random) as a Minari dataset", CollectConfig
    )
    add_config_flags(collect, CollectConfig, positional={"env_id": None})
    collect.set_defaults(handler=_cmd_collect)

    compare = add(
        sub,
        "compare",
        "roll out pairs of episodes on shared goals and rate them (oracle or human)",
        CompareConfig,
    )
    add_config_flags(compare, CompareConfig, positional={"env_id": "?"})
    compare.set_defaults(handler=_cmd_compare)

    label = add(
        sub, "label", "label pairs of episodes in a local web page (after compare --rater human)", LabelConfig
    )
    add_config_flags(label, LabelConfig, positional={"directory": None})
    label.set_defaults(handler=_cmd_label)

    train = add(
        sub,
        "train",
        "train a policy: `train bc` (imitation), `train rl` (PPO fine-tuning) or `train rm` (reward model)",
    )
    train_sub = train.add_subparsers(dest="algorithm_kind", metavar="KIND", required=True)
    bc = add(train_sub, "bc", "behaviour cloning on a demonstration dataset", BCConfig)
    add_config_flags(bc, BCConfig)
    bc.set_defaults(handler=_cmd_train_bc)
    rl = add(train_sub, "rl", "PPO / MaskablePPO fine-tuning, from a BC policy or a fresh one", RLConfig)
    add_config_flags(rl, RLConfig, positional={"env_id": "?"})
    rl.set_defaults(handler=_cmd_train_rl)
    rm = add(train_sub, "rm", "a reward model from pairwise comparisons (Bradley-Terry)", RMConfig)
    add_config_flags(rm, RMConfig)
    rm.set_defaults(handler=_cmd_train_rm)

    ev = add(sub, "eval", "success rate, reward and length with confidence intervals", EvalConfig)
    add_config_flags(ev, EvalConfig, positional={"env_id": "*"})
    ev.set_defaults(handler=_cmd_eval)

    demo = add(sub, "demo", "collect, BC, RL, evaluate; print random / BC / BC+RL / expert", DemoConfig)
    add_config_flags(demo, DemoConfig)
    demo.set_defaults(handler=_cmd_demo)

    study = add(
        sub, "study", "sweep demos x pretrained/scratch x bc, bc+rl, rl x seeds; CSV, plots, tests", StudyArgs
    )
    add_config_flags(study, StudyArgs)
    study.set_defaults(handler=_cmd_study)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rlft`` command; return its exit status."""
    from rlft.agents.interrupt import INTERRUPT_EXIT_STATUS, TrainingInterrupted, restore_sigint

    restore_sigint()
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
    except TrainingInterrupted as stop:
        print(f"rlft {args.command}: {stop}", file=sys.stderr)
        return INTERRUPT_EXIT_STATUS
    except KeyboardInterrupt:
        print(f"rlft {args.command}: interrupted", file=sys.stderr)
        return INTERRUPT_EXIT_STATUS


if __name__ == "__main__":
    sys.exit(main())
