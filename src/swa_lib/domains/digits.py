"""scikit-learn's 8x8 handwritten digits: a small real image set for the course's CNN offline.

``sklearn.datasets.load_digits`` (1,797 images, 10 classes, 8x8 pixels with integer intensity
0..16; shipped with scikit-learn, so no download) is the nearest offline stand-in for the course's
MNIST row (``scripts/mnist/cnn.py``): the same kind of data at 1/64 of the pixels and 1/33 of the
training set. Pixels are divided by 16 into ``[0, 1]`` (the course's ``ToTensor`` scaling of
MNIST, no mean/std normalisation) and shaped ``(N, 1, 8, 8)``; the split is a seeded random 80/20
(:func:`swa_lib.domains.base.split_indices`). The course's CNN
(:class:`swa_lib.domains.course_models.CourseCNN`, 3 blocks) pools 8x8 to 1x1.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import TensorDomain, split_indices

__all__ = ["load_digits_domain"]


def load_digits_domain(seed: int = 0, *, train_fraction: float = 0.8) -> TensorDomain:
    """The digits as a :class:`~swa_lib.domains.base.TensorDomain` (classification, 10 classes);
    ``seed`` draws the split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(np.asarray(bunch.images, np.float32) / 16.0).unsqueeze(1)
    y = torch.as_tensor(np.asarray(bunch.target, np.int64))
    tr, te = split_indices(x.shape[0], train_fraction, seed)
    return TensorDomain(
        "digits",
        "classification",
        x[tr],
        y[tr],
        x[te],
        y[te],
        10,
        info={"source": "sklearn.datasets.load_digits", "seed": seed},
    )
