"""The ``rlft`` command line.

Sub-commands: ``envs`` lists the registered environments. Each sub-command is a small function that
parses its own arguments and calls the documented Python API; none hides logic of its own.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from rlft import __version__
from rlft.errors import RlftError

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


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``rlft`` command."""
    parser = argparse.ArgumentParser(
        prog="rlft",
        description="Gymnasium environments and pretrained-backbone agents: imitation, then RL fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"rlft {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list the registered environment ids with a one-line description")
    envs.add_argument("filter", nargs="?", default="", help="only ids containing this text")
    envs.set_defaults(handler=_cmd_envs)
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
