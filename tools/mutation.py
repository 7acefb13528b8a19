"""Mutation testing of sk_mtgru: does the test suite notice when the code is wrong?

Two kinds of mutants, each run on a copy of the package with the tests that cover
its file (``pytest -x``, so a killed mutant stops at its first failing test):

- **named**: hand-made mutations of bugs the tests are named for (a missing label
  dropping a row out of every task's loss, warm start forgetting the weights, ...).
  Every one must be killed; the script exits with 1 if one survives.
- **generated**: a seeded sample of small syntactic changes -- a comparison
  flipped, ``+`` for ``-``, ``and`` for ``or``, a ``not`` removed, a number
  changed, ``True`` for ``False``, a call, a return or an attribute
  assignment replaced by ``pass`` -- in ``_net.py``, ``_targets.py``,
  ``_data.py``, ``balancing.py``, ``_base.py`` (the fit loop),
  ``_classifier.py``, four of the safe files' ``_io`` modules, and the task
  affinity, task group, thread and pandas-input modules. The share
  killed is the mutation score; survivors are printed with their change so
  that one can judge whether a test is missing or the mutant is equivalent.

A mutant that makes the tests run past ``--timeout`` counts as killed (as in
mutmut). Usage::

    python tools/mutation.py                      # named + 12 generated per file
    python tools/mutation.py --per-file 40 --jobs 2 --seed 1
    python tools/mutation.py --named-only
    python tools/mutation.py --files _io/_model.py _io/_targets.py --per-file 6

Each mutant takes a fresh import of torch: count 10-60 s per mutant on two cores
(``--jobs 2`` runs two at a time, each with one torch thread); the default run,
11 named and 180 generated mutants, about 75 minutes.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The tests that cover each file, fastest and most direct first.
TESTS = {
    "_net.py": [
        "tests/test_objective.py",
        "tests/test_balancing.py",
        "tests/test_affinity.py",
        "tests/test_robustness.py",
        "tests/test_estimator.py",
    ],
    "_targets.py": [
        "tests/test_objective.py",
        "tests/test_validation.py",
        "tests/test_estimator.py",
        "tests/test_tagger.py",
    ],
    "_data.py": [
        "tests/test_batching.py",
        "tests/test_out_of_memory.py",
        "tests/test_robustness.py",
        "tests/test_estimator.py",
        "tests/test_tagger.py",
    ],
    "balancing.py": ["tests/test_balancing.py", "tests/test_affinity.py"],
    # The fit loop, shared by every estimator.
    "_base.py": [
        "tests/test_estimator.py",
        "tests/test_objective.py",
        "tests/test_training.py",
        "tests/test_robustness.py",
        "tests/test_frontend.py",
        "tests/test_batching.py",
    ],
    # Safe files: the _io package (and, for runs on releases before it, the one
    # module it replaced; files a tree lacks are skipped).
    "_io/_model.py": ["tests/test_safe_format.py", "tests/test_persistence.py"],
    "_io/_format.py": ["tests/test_safe_format.py", "tests/test_persistence.py"],
    "_io/_network.py": ["tests/test_safe_format.py", "tests/test_persistence.py"],
    "_io/_targets.py": ["tests/test_safe_format.py", "tests/test_persistence.py"],
    "_persistence.py": ["tests/test_safe_format.py", "tests/test_persistence.py"],
    # Task affinity and task groups; threads; pandas input.
    "_affinity.py": ["tests/test_affinity.py", "tests/test_task_groups.py"],
    "_grouping.py": ["tests/test_task_groups.py"],
    "_grouped.py": ["tests/test_task_groups.py"],
    "_threads.py": ["tests/test_threads.py"],
    "_frames.py": ["tests/test_frames.py"],
    "_classifier.py": [
        "tests/test_docstrings.py",
        "tests/test_estimator.py",
        "tests/test_objective.py",
        "tests/test_batching.py",
        "tests/test_sklearn_compat.py",
    ],
}


@dataclass
class Mutant:
    file: str  # relative to sk_mtgru/
    description: str
    source: str  # the whole mutated file
    tests: list[str]


# (file, what the bug is, text to replace, its replacement, tests that must fail)
NAMED = [
    (
        "_targets.py",
        "a row with any missing label drops out of every task's loss",
        "    weights = np.zeros(codes.shape, dtype=np.float32)\n",
        "    weights = np.zeros(codes.shape, dtype=np.float32)\n"
        "    sample_weight = sample_weight * (codes >= 0).all(axis=1)\n",
        [
            "tests/test_objective.py::test_missing_labels_of_one_task_still_train_the_others"
        ],
    ),
    (
        "_base.py",
        "warm start does not load the first fit's weights",
        "net.module_.load_state_dict(self.net_.module_.state_dict())",
        "None",
        ["tests/test_estimator.py::test_warm_start_continues_from_the_current_weights"],
    ),
    (
        "_base.py",
        "fit does not train (the walkthrough notebook must notice)",
        "epochs=1 if incremental else self.max_iter",
        "epochs=1 if incremental else 0",
        ["tests/test_notebooks.py"],
    ),
    (
        "_base.py",
        "optimizer steps are never fused",
        'params["optimizer__fused"] = True',
        "pass",
        [
            "tests/test_estimator.py::test_the_optimizer_takes_fused_steps_where_torch_has_them"
        ],
    ),
    (
        "_net.py",
        "a divergence names the wrong batch",
        "batch = self._batches_this_epoch[prefix]",
        "batch = 1",
        [
            "tests/test_robustness.py::"
            "test_divergence_names_the_epoch_and_batch_it_happened_in"
        ],
    ),
    (
        "_base.py",
        "the balancing state never sees the epoch's losses",
        '("balancing", BalancingEpochEnd()),',
        "",
        ["tests/test_balancing.py"],
    ),
    (
        "_training.py",
        "per-task early stopping does not put the heads back",
        "            net.module_.load_state_dict(weights, strict=False)",
        "            pass",
        [
            "tests/test_training.py::"
            "test_per_task_early_stopping_restores_each_head_to_its_own_best_epoch"
        ],
    ),
    (
        "_regression.py",
        "regression targets are not standardised",
        "    encoded = ((values - mean) / scale).astype(np.float32)",
        "    encoded = values.astype(np.float32)",
        ["tests/test_regressor.py"],
    ),
    (
        "_tagger.py",
        "a sequence's sample weight does not reach its steps",
        "return np.repeat(weights, [len(x) for x in X_checked])",
        "return np.ones(sum(len(x) for x in X_checked))",
        ["tests/test_tagger.py::test_class_weight_and_sample_weight_weigh_every_step"],
    ),
    (
        "_targets.py",
        "class weights are ignored",
        "sample_weight[labelled] * task_weights[codes[labelled, k]]",
        "sample_weight[labelled]",
        ["tests/test_tagger.py::test_class_weight_and_sample_weight_weigh_every_step"],
    ),
    (
        "_tagger.py",
        "padding steps enter the loss",
        "        padded_loss[steps] = step_loss_weights\n",
        "        padded_loss[steps] = step_loss_weights\n"
        "        padded_loss[~steps] = 1.0\n",
        ["tests/test_tagger.py::test_padding_never_enters_the_loss"],
    ),
]


SWAP_COMPARE = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
SWAP_BINOP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
}


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes a mutation may touch, in a fixed order: not docstrings, messages
    (f-strings) or annotations, which are not behaviour."""
    order: list[ast.AST] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, (ast.JoinedStr, ast.arg)) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            return
        order.append(node)
        for field, value in ast.iter_fields(node):
            if field in ("returns", "annotation"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    walk(child)

    walk(tree)
    return order


def _kind(node: ast.AST) -> str | None:
    if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAP_COMPARE:
        return "compare"
    if isinstance(node, ast.BinOp) and type(node.op) in SWAP_BINOP:
        return "binop"
    if isinstance(node, ast.BoolOp):
        return "boolop"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "not"
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        return "constant"
    # Statements with an effect beyond a local name (deleting ``x = ...`` only
    # makes a NameError, which any test catches).
    if isinstance(node, (ast.AugAssign, ast.Expr, ast.Return)) or (
        isinstance(node, ast.Assign)
        and not all(isinstance(t, ast.Name) for t in node.targets)
    ):
        return "statement"
    return None


def _mutate(node: ast.AST, kind: str) -> str:
    """Change ``node`` in place; describe the change."""
    before = ast.unparse(node).splitlines()[0][:80]
    if kind == "compare":
        node.ops[0] = SWAP_COMPARE[type(node.ops[0])]()
    elif kind == "binop":
        node.op = SWAP_BINOP[type(node.op)]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "constant":
        value = node.value
        if isinstance(value, bool):
            node.value = not value
        elif value == 0:
            node.value = type(value)(1)
        else:
            node.value = (
                type(value)(value * 2) if isinstance(value, float) else value + 1
            )
    elif kind == "statement":
        return f"{before}  ->  pass"
    after = ast.unparse(node).splitlines()[0][:80]
    return f"{before}  ->  {after}"


def generated(file: str, count: int, rng: random.Random) -> list[Mutant]:
    source = (ROOT / "sk_mtgru" / file).read_text()
    tree = ast.parse(source)
    sites = [(i, _kind(n)) for i, n in enumerate(_nodes(tree)) if _kind(n)]
    chosen = rng.sample(sites, min(count, len(sites)))
    mutants = []
    for index, kind in chosen:
        mutated = copy.deepcopy(tree)
        node = _nodes(mutated)[index]
        if kind == "statement":
            description = _mutate(node, kind)
            for parent in ast.walk(mutated):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    body = getattr(parent, field, None)
                    if isinstance(body, list) and any(n is node for n in body):
                        body[[id(n) for n in body].index(id(node))] = ast.Pass()
        elif kind == "not":
            description = (
                f"{ast.unparse(node)[:80]}  ->  {ast.unparse(node.operand)[:80]}"
            )
            parent, field, position = next(
                (p, f, i)
                for p in ast.walk(mutated)
                for f, value in ast.iter_fields(p)
                for i, v in enumerate(value if isinstance(value, list) else [value])
                if v is node
            )
            value = getattr(parent, field)
            if isinstance(value, list):
                value[position] = node.operand
            else:
                setattr(parent, field, node.operand)
        else:
            description = _mutate(node, kind)
        line = getattr(node, "lineno", "?")
        mutants.append(
            Mutant(
                file,
                f"{file}:{line} {kind}: {description}",
                ast.unparse(mutated),
                TESTS[file],
            )
        )
    return mutants


def named() -> list[Mutant]:
    mutants = []
    for file, description, old, new, tests in NAMED:
        source = (ROOT / "sk_mtgru" / file).read_text()
        if source.count(old) != 1:
            raise SystemExit(f"named mutant {description!r}: text not found once")
        mutants.append(Mutant(file, description, source.replace(old, new), tests))
    return mutants


def killed(mutant: Mutant, timeout: float) -> bool:
    """Run the mutant's tests on a copy of the package; True if any fails."""
    with tempfile.TemporaryDirectory() as tmp:
        # pytest puts the tests' root first on sys.path: run from the copy.
        for folder in ("sk_mtgru", "tests"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder)
        shutil.copytree(ROOT / "docs" / "notebooks", Path(tmp) / "docs" / "notebooks")
        shutil.copy(ROOT / "pyproject.toml", tmp)
        (Path(tmp) / "sk_mtgru" / mutant.file).write_text(mutant.source)
        env = {**os.environ, "PYTHONPATH": tmp, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        try:
            result = subprocess.run(
                command + mutant.tests,
                cwd=tmp,
                env=env,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return True
        return result.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--named-only", action="store_true")
    parser.add_argument(
        "--files",
        nargs="+",
        default=None,
        help="generate mutants of these files only (paths under sk_mtgru/)",
    )
    args = parser.parse_args()
    files = [
        file for file in (args.files or TESTS) if (ROOT / "sk_mtgru" / file).exists()
    ]

    rng = random.Random(args.seed)
    groups = {} if args.files else {"named": named()}
    if not args.named_only:
        groups["generated"] = [
            mutant for file in files for mutant in generated(file, args.per_file, rng)
        ]
    status = 0
    for group, mutants in groups.items():
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda m: killed(m, args.timeout), mutants))
        survivors = [m for m, k in zip(mutants, results) if not k]
        print(
            f"\n{group}: {sum(results)}/{len(mutants)} killed "
            f"({100 * sum(results) / len(mutants):.0f} %)"
        )
        for file in files if group == "generated" else []:
            mine = [k for m, k in zip(mutants, results) if m.file == file]
            if mine:
                print(f"  {file:16s} {sum(mine)}/{len(mine)}")
        for mutant in survivors:
            print(f"  survived: {mutant.description}")
        if group == "named" and survivors:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
