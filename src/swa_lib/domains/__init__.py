"""The course project's domains (regression, small images, graphs) and its protocol exactly.

* :mod:`~swa_lib.domains.base` -- :class:`TensorDomain`, the in-memory container;
* :mod:`~swa_lib.domains.regression` -- the 2-D function of the course's report, Friedman 1 / 3;
* :mod:`~swa_lib.domains.digits` -- scikit-learn's 8x8 digits;
* :mod:`~swa_lib.domains.graphs` -- SBM graphs made as CLUSTER, the course's GCN;
* :mod:`~swa_lib.domains.course_models` -- the course's MLP, CNN and MobileNetV2;
* :mod:`~swa_lib.domains.course_schedules` -- its per-iteration learning-rate tables;
* :mod:`~swa_lib.domains.course` -- its two-phase protocol and the paper's Table 2 phase;
* :mod:`~swa_lib.domains.course_stacked` -- the same for several seeds at once (one stacked net);
* :mod:`~swa_lib.domains.recipes` -- each experiment's settings, read from its scripts.
"""

from .base import TensorDomain, split_indices
from .course import (
    CourseRecipe,
    SWAPhase,
    course_phase,
    course_swa_run,
    ensemble_predict,
    evaluate_course,
    fold_parameters,
    paper_table2_phase,
)
from .course_models import CourseCNN, CourseMLP, CourseMobileNetV2
from .course_schedules import course_cosine_table, course_swa_linear_table
from .course_stacked import course_swa_runs, metrics_from_outputs, stackable, stacked_forward
from .digits import load_digits_domain
from .graphs import CLUSTER_RECIPE, CourseGCN, GraphDomain, make_sbm_cluster, normalized_adjacency
from .recipes import (
    COURSE_RECIPES,
    DIGITS_EPOCH_SCALE,
    ROW_NAMES,
    cifar_domain,
    domain_and_model,
    scale_epochs,
)
from .regression import make_friedman, make_two_d, standardize_domain, two_d_function
from .tables import runs_frame, summary_table

__all__ = [
    "TensorDomain",
    "split_indices",
    "CourseRecipe",
    "SWAPhase",
    "course_phase",
    "course_swa_run",
    "ensemble_predict",
    "evaluate_course",
    "fold_parameters",
    "paper_table2_phase",
    "CourseCNN",
    "CourseMLP",
    "CourseMobileNetV2",
    "course_cosine_table",
    "course_swa_linear_table",
    "load_digits_domain",
    "CLUSTER_RECIPE",
    "CourseGCN",
    "GraphDomain",
    "make_sbm_cluster",
    "normalized_adjacency",
    "COURSE_RECIPES",
    "DIGITS_EPOCH_SCALE",
    "ROW_NAMES",
    "cifar_domain",
    "domain_and_model",
    "make_friedman",
    "make_two_d",
    "standardize_domain",
    "two_d_function",
    "runs_frame",
    "summary_table",
    "scale_epochs",
    "course_swa_runs",
    "metrics_from_outputs",
    "stackable",
    "stacked_forward",
]
