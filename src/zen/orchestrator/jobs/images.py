"""``zen fit --as-image HxW``: a table of pixel columns read as images and classified.

A table is taken for images only when asked (pixel columns look like any numeric table): every
column but the target is a pixel, in row-major order (channel, then row, then column), and
their number must be ``channels * height * width``. The images then go through the sequence
job's machinery with the ``image classifier`` candidates (2-D ConvNet and ResNet, an MLP
baseline): a stratified ``test_size`` share held out and reported, candidates ranked on a
stratified fifth of the rest.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

import zen
from zen.errors import DataError
from zen.orchestrator.jobs.sequence import VALIDATION_SHARE, SequenceJob
from zen.profile import profile_images
from zen.tabular import train_test_split


def parse_image_shape(text: str) -> tuple[int, int, int]:
    """``"8x8"`` (one channel) or ``"3x32x32"`` as ``(channels, height, width)``.

    >>> parse_image_shape("8x8"), parse_image_shape("3x32x32")
    ((1, 8, 8), (3, 32, 32))
    """
    sizes = [int(part) for part in re.split(r"[x×,]", text.strip().lower()) if part.isdigit()]
    if (
        len(sizes) not in (2, 3)
        or min(sizes, default=0) < 1
        or len(re.findall(r"\d+", text)) != len(sizes)
    ):
        raise zen.ConfigError(
            f"as_image: expected HEIGHTxWIDTH or CHANNELSxHEIGHTxWIDTH (e.g. 8x8), got {text!r}"
        )
    return (1, sizes[0], sizes[1]) if len(sizes) == 2 else (sizes[0], sizes[1], sizes[2])


def table_images(
    pixels: pd.DataFrame, shape: tuple[int, ...], name: str, besides: str = ""
) -> np.ndarray:
    """The rows of ``pixels`` as ``(rows, *shape)`` float32 images, or a DataError naming
    ``name``: as many columns as an image has pixels, every value a finite number."""
    wanted = int(np.prod(shape))
    if pixels.shape[1] != wanted:
        raise DataError(
            f"{name}: {'x'.join(map(str, shape))} images need {wanted} pixel columns{besides};"
            f" the table has {pixels.shape[1]}"
        )
    text = [str(c) for c in pixels.columns if not pd.api.types.is_numeric_dtype(pixels[c])]
    if text:
        raise DataError(f"{name}: pixel columns must be numbers; {text[:5]} are not")
    values = pixels.to_numpy(dtype=np.float32)
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0][0])
        raise DataError(f"{name}: row {row} has a missing or infinite pixel")
    return values.reshape(len(pixels), *shape)


def image_job(
    frame: pd.DataFrame,
    target: str,
    shape: tuple[int, int, int],
    *,
    budget_s: float = 300.0,
    test_size: float = 0.2,
    seed: int = 0,
    progress: bool = False,
    tune: bool = False,
    source: str = "<DataFrame>",
) -> SequenceJob:
    """The job on ``frame``'s pixel columns as ``shape`` images, labelled by ``target``."""
    if target not in frame.columns:
        raise DataError(f"target: no column {target!r}; the columns are {list(frame.columns)[:8]}")
    if not 0.0 < test_size < 1.0:
        raise zen.ConfigError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    images = table_images(frame.drop(columns=[target]), shape, "as_image", f" besides {target!r}")
    labels = frame[target].astype(str).to_numpy()
    classes = sorted(set(labels), key=lambda label: (not label.isdigit(), int(label) if
                                                     label.isdigit() else 0, label))  # fmt: skip
    codes = np.asarray([classes.index(label) for label in labels], dtype=np.int64)
    keep, held = train_test_split(len(frame), test_size, seed, codes)
    fit_rows, val_rows = train_test_split(len(keep), VALIDATION_SHARE, seed, codes[keep])
    fit_rows, val_rows = keep[fit_rows], keep[val_rows]
    profile = profile_images(labels[keep], shape, source)
    return SequenceJob(
        profile, classes, f"{test_size:.0%} of the images held out (stratified, seed {seed})",
        source=source, seed=seed, progress=progress, layout="images", target=target,
        arrays=(images[fit_rows], codes[fit_rows], images[val_rows], codes[val_rows],
                images[held], codes[held]),
        settings={"budget_s": budget_s, "tune": tune, "as_image": list(shape)},
        key_parts={"images": images, "labels": codes, "test_size": test_size, "seed": seed,
                   "budget_s": budget_s, "version": zen.__version__},
    )  # fmt: skip
