"""Training runs: SGD with the paper's schedules, SWA (and optionally EMA / SWAG) on the side.

``run(TrainConfig(...), runs_dir)`` trains one configuration and returns a :class:`RunResult`.
A run folder ``runs_dir/<dataset>-<model>-<hash>/`` holds

* ``config.json``  -- the validated config (the hash is over it);
* ``metrics.csv``  -- one row per epoch: ``lr``, train/test ``loss``, ``accuracy`` and ``nll``
  of the SGD iterate (``sgd_*``) and, once it exists, of the SWA model (``swa_*``, BN recomputed
  before each evaluation), ``swa_n`` (models averaged so far) and ``epoch_time_s``;
* ``checkpoint.pt`` -- written atomically after every ``checkpoint_every`` epochs (model,
  optimiser, averagers with their counts, RNG states, metric rows); removed when the run ends;
* ``final.json`` + ``sgd.pt`` / ``swa.pt`` / ``ema.pt`` / ``swag.pt`` -- when the run has ended.

If ``final.json`` exists the run is cached and returned without training; if only a checkpoint
exists the run resumes from it and ends with exactly the weights and metrics of an uninterrupted
run (on the CPU). Train metrics are exact whole-set evaluations of the *unaugmented* training set
in eval mode; ``running_train_loss`` is the usual running mean over the epoch's (augmented)
mini-batches. The SWA model's BN statistics are recomputed from unaugmented training batches, so
evaluation consumes no randomness and the evaluation frequency never changes the training path.
"""


from .compare import Pair, pairs_frame, sgd_and_swa
from .config import CACHE_VERSION, SWA_LR_SCHEDULES, TrainConfig, resolve_device
from .loop import METRIC_COLUMNS, run
from .runs import RunResult, run_dir_for

__all__ = ["TrainConfig", "RunResult", "run", "run_dir_for", "resolve_device", "CACHE_VERSION",
           "SWA_LR_SCHEDULES", "METRIC_COLUMNS", "Pair", "sgd_and_swa", "pairs_frame"]
