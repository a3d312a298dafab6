"""The 8x8 handwritten digits bundled with scikit-learn, as images for convolutional networks."""

from __future__ import annotations

import numpy as np

from zen.errors import BackendUnavailable


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits of the UCI optical recognition set, as shipped inside scikit-learn.

    Nothing is downloaded: the images come with scikit-learn (an optional dependency, in the
    ``dev`` and ``bench`` extras).

    Returns:
        ``X`` float32 ``(1797, 1, 8, 8)`` in ``[0, 1]`` (the 0..16 grey levels divided by 16)
        and ``y`` int64 ``(1797,)`` holding the digit, 0..9.

    Raises:
        BackendUnavailable: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise BackendUnavailable(
            "load_digits_images: needs scikit-learn, which ships the digits; install it with"
            " `pip install scikit-learn` (or zen-neural[dev])"
        ) from None
    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float32) / np.float32(16.0)
    return images[:, None, :, :], np.asarray(digits.target, dtype=np.int64)
