"""Training runs: SGD with the paper's schedules, SWA (and optionally EMA / SWAG) on the side.

``run(TrainConfig(...), runs_dir)`` trains one configuration and returns a :class:`RunResult`;
``run_many(configs, runs_dir)`` does the same for many, training seeds together as one stacked
model where it can. A run folder ``runs_dir/<dataset>-<model>-<hash>/`` holds

* ``config.json``  -- the validated config: the hash is over the fields that change what the
  run computes (:meth:`TrainConfig.key_fields`), the rest says what the folder records;
* ``metrics.csv``  -- one row per epoch: ``lr``, train/test ``loss``, ``accuracy`` and ``nll``
  of the SGD iterate (``sgd_*``) and, once it exists, of the SWA model (``swa_*``, BN recomputed
  before each evaluation), ``swa_n`` (models averaged so far) and ``epoch_time_s``;
* ``checkpoint.pt`` -- written atomically after every ``checkpoint_every`` epochs (model,
  optimiser, averagers with their counts, RNG states, metric rows: tensors and plain values only,
  read back with ``torch.load(weights_only=True)``); removed when the run ends;
* ``final.json`` + ``sgd.pt`` / ``swa.pt`` / ``ema.pt`` / ``swag.pt`` -- when the run has ended
  (strict JSON: a run whose loss stops being finite raises :class:`TrainingDiverged` instead;
  ``world_size``: the number of ranks it trained on, not part of the key).

If ``final.json`` exists and the folder records what the request asks for (its evaluation
epochs, snapshots) the run is cached and returned without training; if it records less, it is
retrained recording the union; if only a checkpoint exists the run resumes from it and ends with
exactly the weights and metrics of an uninterrupted run (on the CPU). Train metrics are exact
whole-set evaluations of the *unaugmented* training set in eval mode; ``running_train_loss`` is
the usual running mean over the epoch's (augmented) mini-batches. The SWA model's BN statistics
are recomputed from unaugmented training batches, so evaluation consumes no randomness and the
evaluation epochs never change the training path.

Modules: ``config`` (:class:`TrainConfig`, :class:`FieldCheck` -- the validation every config
uses), ``loop`` (:func:`train_epoch`, the one SGD step loop; :func:`run`; :func:`build_optimizer`),
``runs`` (the run folder: lock, cache read, weights-only checkpoints, seeding, :class:`RunResult`),
``distributed`` (the same run over the ranks of a ``torchrun`` launch, DDP), ``subset`` (averaging
a chosen subset of the parameters), ``divergence`` (:class:`TrainingDiverged`),
``batched`` (:func:`run_many`) and ``stacked`` (K models as one: batched matmuls, grouped
convolutions), ``compare`` (SGD/SWA pairs over seeds), ``presets`` (the book's base configs),
``regimes`` (the paper's two learning-rate regimes and a grid of pairs over them),
``course_project`` (the course project's two-phase protocol on the same infrastructure),
``from_checkpoint`` (a run's state after k epochs continued under another schedule: the paper's
Figure 6 and Table 2 protocols), ``replay`` (a stretch of a run replayed step by step, its
iterate evaluated every few steps: inside the cycles of the paper's Figure 2).
"""

from .batched import run_many
from .compare import Pair, pairs_frame, sgd_and_swa
from .config import CACHE_VERSION, SWA_LR_SCHEDULES, FieldCheck, TrainConfig, resolve_device
from .course_project import CourseConfig, CourseResult, course_project_run
from .divergence import TrainingDiverged
from .loop import METRIC_COLUMNS, OPTIMIZERS, EpochLoss, build_optimizer, run, train_epoch
from .regimes import REGIMES, regime_changes, regime_grid, regime_summary
from .runs import RunFolder, RunResult, run_dir_for

__all__ = [
    "TrainConfig",
    "RunResult",
    "RunFolder",
    "run",
    "run_many",
    "run_dir_for",
    "resolve_device",
    "CACHE_VERSION",
    "SWA_LR_SCHEDULES",
    "METRIC_COLUMNS",
    "Pair",
    "sgd_and_swa",
    "pairs_frame",
    "train_epoch",
    "EpochLoss",
    "build_optimizer",
    "OPTIMIZERS",
    "FieldCheck",
    "CourseConfig",
    "CourseResult",
    "course_project_run",
    "TrainingDiverged",
    "REGIMES",
    "regime_changes",
    "regime_grid",
    "regime_summary",
]
