"""``rlft study``: the thesis measured, as a sweep of resumable cells with fair budgets.

A study crosses environments x demonstration counts x backbone initialisation (``pretrained``,
``scratch``) x method (``bc``, ``bc+rl``, ``rl``) x seeds. Each cell is a resumable run folder
(demonstrations -> BC -> RL -> evaluation on held-out goals), cells run in parallel worker processes (or
as Ray tasks on a cluster: ``ray``, ``cell_cpus``, ``cell_gpus``), and the outputs are ``results.csv``,
a markdown table, scaling plots and paired McNemar tests::

    from rlft.agents.study import preset_config, run_study

    result = run_study(preset_config("quick", out_dir="runs/study"))
    print(result.table)

Importing this package is cheap; torch loads when a cell trains.
"""

from rlft.agents.study.analysis import CSV_COLUMNS, mcnemar_exact, paired_tests, write_outputs
from rlft.agents.study.cells import Cell, DemoSet, expand_cells, fair_rl_steps
from rlft.agents.study.config import (
    INITS,
    PRESETS,
    StudyConfig,
    StudyEnv,
    load_study_file,
    preset_config,
    study_from_mapping,
)
from rlft.agents.study.methods import METHODS, Method, register_method
from rlft.agents.study.runner import (
    STAGES,
    CellRun,
    StudyResult,
    plan_study,
    register_stage,
    run_cell,
    run_study,
)

__all__ = [
    "CSV_COLUMNS",
    "INITS",
    "METHODS",
    "PRESETS",
    "STAGES",
    "Cell",
    "CellRun",
    "DemoSet",
    "Method",
    "StudyConfig",
    "StudyEnv",
    "StudyResult",
    "expand_cells",
    "fair_rl_steps",
    "load_study_file",
    "mcnemar_exact",
    "paired_tests",
    "plan_study",
    "preset_config",
    "register_method",
    "register_stage",
    "run_cell",
    "run_study",
    "study_from_mapping",
    "write_outputs",
]
