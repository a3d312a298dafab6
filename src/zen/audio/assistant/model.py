"""The assistant's network, its targets, and its files (safetensors + JSON config).

The network is a :class:`zen.neural.MLP` from the standardised feature vector
(:mod:`zen.audio.assistant.features`) to nine outputs, each a correction divided by its
largest value so that every target lies in [-1, 1]:

=====  =========================  ========  ===========================================
index  output                     scale     correction
=====  =========================  ========  ===========================================
0      ``tilt``                   3         ``eq_tilt_db_per_octave``
1-5    ``band_<f>hz``             6         ``band_gains_db`` at 80 Hz ... 10 kHz
6      ``compression``            1         ``compression_amount`` (< 0: over-compressed)
7      ``width_log2``             1         ``log2(width)``
8      ``loudness_gap``           6         ``loudness_gap_db``
=====  =========================  ========  ===========================================

A weights directory holds ``assistant.safetensors`` (``model.*``: the MLP's state dict,
``scaler.mean`` / ``scaler.scale``: the feature standardisation) and ``assistant.json`` (how to
rebuild and feed the network, the training data and its measured errors). Loading reads those
two local files and nothing else.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.audio.assistant.features import FeatureConfig
from zen.audio.presets import (
    ASSISTANT_BANDS_HZ,
    MAX_BAND_GAIN_DB,
    MAX_LOUDNESS_GAP_DB,
    MAX_TILT_DB_PER_OCTAVE,
    Corrections,
)
from zen.errors import ConfigError, DataError
from zen.neural.checkpoint import load_tensors, read_json, save_tensors, write_atomic, write_json
from zen.neural.mlp import MLP

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
WEIGHTS_FILE = "assistant.safetensors"
CONFIG_FILE = "assistant.json"
INT8_FILE = "assistant-int8.onnx"
FORMAT = "zen.audio.assistant"
FORMAT_VERSION = 1

TARGET_NAMES: tuple[str, ...] = (
    "tilt",
    *(f"band_{freq:g}hz" for freq in ASSISTANT_BANDS_HZ),
    "compression",
    "width_log2",
    "loudness_gap",
)
TARGET_UNITS: tuple[str, ...] = ("dB/oct", *("dB",) * len(ASSISTANT_BANDS_HZ), "", "oct", "dB")
TARGET_SCALES = np.array(
    [MAX_TILT_DB_PER_OCTAVE, *(MAX_BAND_GAIN_DB,) * len(ASSISTANT_BANDS_HZ), 1.0, 1.0,
     MAX_LOUDNESS_GAP_DB],
    dtype=np.float32,
)  # fmt: skip
MAX_WIDTH_LOG2 = 1.0
MAX_STANDARD_SCORE = 8.0


def corrections_to_targets(corrections: Corrections) -> np.ndarray:
    """The scaled target vector (9,) of ``corrections``."""
    gains = corrections.band_gains_db or (0.0,) * len(ASSISTANT_BANDS_HZ)
    values = np.array(
        [corrections.eq_tilt_db_per_octave, *gains, corrections.compression_amount,
         math.log2(max(corrections.width, 1e-6)), corrections.loudness_gap_db],
        dtype=np.float32,
    )  # fmt: skip
    return values / TARGET_SCALES


def targets_to_values(targets: np.ndarray) -> np.ndarray:
    """Scaled outputs (..., 9) back in correction units (dB/oct, dB, amount, octaves, dB)."""
    return np.asarray(targets, dtype=np.float64) * TARGET_SCALES


def values_to_corrections(values: np.ndarray) -> Corrections:
    """One row of correction values (see :func:`targets_to_values`) as :class:`Corrections`,
    each clipped to the range the assistant was trained on."""
    tilt = float(np.clip(values[0], -MAX_TILT_DB_PER_OCTAVE, MAX_TILT_DB_PER_OCTAVE))
    bands = tuple(
        round(float(np.clip(gain, -MAX_BAND_GAIN_DB, MAX_BAND_GAIN_DB)), 3)
        for gain in values[1 : 1 + len(ASSISTANT_BANDS_HZ)]
    )
    width_log2 = float(np.clip(values[-2], -MAX_WIDTH_LOG2, MAX_WIDTH_LOG2))
    return Corrections(
        eq_tilt_db_per_octave=round(tilt, 3),
        band_gains_db=bands,
        compression_amount=round(float(np.clip(values[-3], -1.0, 1.0)), 3),
        width=round(2.0**width_log2, 3),
        loudness_gap_db=round(float(np.clip(values[-1], -MAX_LOUDNESS_GAP_DB,
                                            MAX_LOUDNESS_GAP_DB)), 2),
    )  # fmt: skip


def build_network(
    n_features: int, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.1
) -> MLP:
    """The assistant's MLP: ``n_features -> hidden... -> 9``, GELU, dropout between layers."""
    return MLP([n_features, *hidden, len(TARGET_NAMES)], activation="gelu", dropout=dropout)


@dataclass
class AssistantWeights:
    """A trained assistant: network, feature standardisation and config, ready to run.

    Attributes:
        network: the MLP (eval mode, CPU).
        feature_mean, feature_scale: standardisation, ``(x - mean) / scale``.
        features: how windows become features.
        config: the whole JSON config (training data, measured errors, ...).
        directory: where it was loaded from (None when built in memory).
    """

    network: MLP
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    features: FeatureConfig
    config: dict[str, Any]
    directory: Path | None = None

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """``(features - mean) / scale``, clipped to +-8: a window unlike any in training gets
        a bounded input instead of one that swamps the network (and INT8's input range)."""
        scaled = (features - self.feature_mean) / self.feature_scale
        return np.clip(scaled, -MAX_STANDARD_SCORE, MAX_STANDARD_SCORE).astype(np.float32)

    @property
    def size_bytes(self) -> int:
        """Bytes of the fp32 parameters (what the safetensors file mostly holds)."""
        return sum(p.numel() * p.element_size() for p in self.network.parameters())

    def save(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write ``assistant.safetensors`` and ``assistant.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v for k, v in self.network.state_dict().items()}
        tensors["scaler.mean"] = torch.from_numpy(self.feature_mean.astype(np.float32))
        tensors["scaler.scale"] = torch.from_numpy(self.feature_scale.astype(np.float32))
        weights_path = directory / WEIGHTS_FILE
        write_atomic(weights_path, lambda temporary: save_tensors(temporary, tensors))
        config = {
            **self.config,
            **(extra or {}),
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features": self.features.to_json(),
            "model": {"class": "MLP", "config": self.network.config()},
            "targets": {"names": list(TARGET_NAMES), "units": list(TARGET_UNITS),
                        "scales": TARGET_SCALES.tolist()},
            "weights_sha256": file_sha256(weights_path),
        }  # fmt: skip
        write_json(directory / CONFIG_FILE, config)
        self.config, self.directory = config, directory
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> AssistantWeights:
        """Read a weights directory (default: the weights shipped with zen)."""
        directory = Path(directory) if directory is not None else WEIGHTS_DIR
        config = read_json(directory / CONFIG_FILE)
        if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{directory / CONFIG_FILE}: not a {FORMAT} v{FORMAT_VERSION} config (got"
                f" {config.get('format')!r} v{config.get('format_version')!r})"
            )
        weights_path = directory / WEIGHTS_FILE
        if file_sha256(weights_path) != config.get("weights_sha256"):
            raise DataError(
                f"{weights_path}: checksum differs from {CONFIG_FILE}; the weights and their"
                " config do not belong together (retrain with `make train-assistant`)"
            )
        tensors = load_tensors(weights_path)
        try:
            features = FeatureConfig(**config["features"])
            network = MLP.from_config(config["model"]["config"])
        except (KeyError, TypeError) as error:
            raise DataError(f"{directory / CONFIG_FILE}: incomplete config ({error})") from None
        state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        network.load_state_dict(state)
        network.eval()
        mean = tensors["scaler.mean"].numpy()
        scale = tensors["scaler.scale"].numpy()
        if network.in_features != features.n_features or len(mean) != features.n_features:
            raise ConfigError(
                f"{directory}: the network takes {network.in_features} features but the feature"
                f" config makes {features.n_features}"
            )
        return cls(network, mean, scale, features, config, directory)


def file_sha256(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: not found; the assistant's weights are missing")
    return hashlib.sha256(path.read_bytes()).hexdigest()
