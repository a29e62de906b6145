"""The code location of pipelines.definitions, with every run's steps in the run's own process (Dagster's
in-process executor) instead of one process per step: the scale-out smoke's default, where the five Python
processes of a multiprocess run (each loading the code location) are most of a run's time on two cores."""

from dagster import Definitions, in_process_executor

import pipelines.definitions

defs = Definitions.merge(pipelines.definitions.defs, Definitions(executor=in_process_executor))
