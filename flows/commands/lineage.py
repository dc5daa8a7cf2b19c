"""``uce lineage STRATEGY_ID --run RUN_ID``: the ancestry tree of an evolved strategy, back to its init genomes."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from rich.console import Console
from rich.tree import Tree

from flows.commands.common import data_dir, fail
from tasks.evolve.lineage import LINEAGE_COLUMNS, LineageError, ancestry, resolve_strategy
from tasks.run.run_dir import RunDir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("lineage", help="print a strategy's ancestry tree")
    p.add_argument("strategy_id", metavar="STRATEGY_ID", help="a strategy id of the run (a unique prefix will do)")
    p.add_argument("--run", required=True, metavar="RUN_ID", help="the run the strategy was evolved in")
    p.add_argument("--depth", type=int, help="show at most this many generations of ancestors (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.depth is not None and args.depth < 0:
        return fail(f"--depth {args.depth} must be >= 0")
    try:
        path = RunDir.for_run(data_dir(args), args.run).evolved
        if not path.exists():
            return fail(f"{path} does not exist: is {args.run!r} a run whose evolve stage finished?")
        evolved = pd.read_parquet(path, columns=LINEAGE_COLUMNS)
        uid = resolve_strategy(evolved, args.strategy_id)
        nodes = ancestry(evolved, uid)
    except (LineageError, ValueError) as err:
        return fail(str(err))
    console = Console()
    console.print(_tree(nodes, uid, args.depth))
    roots = nodes[nodes["operator"] == "init"]
    console.print(f"{len(nodes) - 1} ancestors; {len(roots)} init genome(s) on island(s) "
                  f"{', '.join(str(i) for i in sorted(roots['island'].unique()))}")
    return 0


def _tree(nodes: pd.DataFrame, uid: int, depth: int | None) -> Tree:
    """The genome at the top, its parents as children; an ancestor reached again is not expanded twice.

    Nodes are expanded in pre-order (the order the tree prints), so the first expansion is always above.
    """
    tree = Tree(_label(nodes.loc[uid]))
    expanded: set[int] = set()
    stack = [(tree, uid, 0)]
    while stack:
        branch, current, level = stack.pop()
        parents = [int(p) for p in nodes.at[current, "parent_uids"]]
        if current in expanded:
            if parents:
                branch.label = f"{branch.label} [dim](ancestors shown above)[/]"
            continue
        expanded.add(current)
        if depth is not None and level >= depth:
            if parents:
                branch.add(f"[dim]… {len(parents)} parent(s) not shown (--depth {depth})[/]")
            continue
        children = [(branch.add(_label(nodes.loc[p])), p, level + 1) for p in parents]
        stack.extend(reversed(children))
    return tree


def _label(row: pd.Series) -> str:
    family = row["family"] if not isinstance(row["family_b"], str) else f"{row['family']} + {row['family_b']}"
    scores = "not evaluated" if not np.isfinite(row["fitness"]) else (
        f"fitness {row['fitness']:.3f}, sharpe {row['sharpe']:.2f}, cagr {row['cagr']:.1%}")
    copy = " [dim](migrated copy)[/]" if not row["evaluated"] else ""
    return (f"[bold]{row['strategy_id']}[/] [cyan]{row['operator']}[/] gen {row['generation']} "
            f"island {row['island']} · {row['coin']} {family} · {scores}{copy}")
