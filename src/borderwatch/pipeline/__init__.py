"""The pipeline: tiles of a corridor mapped through an executor, results keyed and stored."""

from borderwatch.pipeline.executors import DaskExecutor, InProcessExecutor, make_executor
from borderwatch.pipeline.run import RunSummary, plan_tasks, run_pipeline, scenes_by_date
from borderwatch.pipeline.tasks import AnalysisParams, TileResult, TileTask, analyse_tile

__all__ = [
    "AnalysisParams", "DaskExecutor", "InProcessExecutor", "RunSummary", "TileResult", "TileTask",
    "analyse_tile", "make_executor", "plan_tasks", "run_pipeline", "scenes_by_date",
]
