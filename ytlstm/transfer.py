"""Transfer learning: start the multivariate LSTM from a trained univariate one (PROTOCOL section 6).

Both networks read the same three views channels first (see
:class:`~ytlstm.windows.FeatureTransform`), scaled identically, so the univariate network's
weights map onto the multivariate network's exactly: the initial multivariate network
reproduces the univariate predictions, and fine-tuning starts from there. The study runs it as
tasks with ``init="transfer"`` (:func:`ytlstm.training.run_job`: the transferred weights are
the initial weights of the engine's branches).

Freezing the recurrent layer for a first phase (allowed by the protocol) is not done: in Keras
the input and recurrent kernels are one layer's weights, so freezing it would also freeze the
new variables' rows, which start at zero, and leave only the dense head to train.
"""

from __future__ import annotations

import numpy as np


def transfer_weights(uni_weights: list, n_channels: int, n_uni_channels: int) -> list:
    """Univariate LSTM weights -> initial multivariate weights (PROTOCOL section 6).

    The input kernel's rows for the views channels are the univariate ones; the rows for the
    new channels start at zero; the recurrent kernel, the bias and the dense head (of any
    width: one output per horizon) are copied. The resulting network reproduces the
    univariate predictions (up to the rounding of a longer sum of exact zeros' products).
    """
    kernel, recurrent, bias, dense_w, dense_b = uni_weights
    new_kernel = np.zeros((n_channels, kernel.shape[1]), dtype=kernel.dtype)
    new_kernel[:n_uni_channels] = kernel
    return [new_kernel, recurrent.copy(), bias.copy(), dense_w.copy(), dense_b.copy()]
