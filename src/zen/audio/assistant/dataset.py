"""Training examples: windows of real music, spoiled by known degradations, as features.

For each track of the corpus: read it at the analysis rate, bring it to the reference balance
and width (:mod:`zen.audio.assistant.reference`) and to :data:`REFERENCE_LUFS` (integrated,
BS.1770), so that "too bright", "too narrow" or "too quiet" mean the same for
every track; cut random 3 s windows (skipping passages 20 dB below the track's RMS),
degrade each window several times (:class:`~zen.audio.assistant.degradations.DegradationSampler`)
and compute its features at every FFT size of the study. Each track's examples are cached in
``cache_dir`` under a key of the track's files and every setting that shapes them, so a rerun
computes only what changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zen.atomic import write_atomic
from zen.audio.assistant.corpus import Track, read_track
from zen.audio.assistant.degradations import DegradationSampler
from zen.audio.assistant.features import FFT_SIZES, FeatureConfig, window_features
from zen.audio.assistant.model import corrections_to_targets
from zen.audio.assistant.reference import (
    ReferenceBalance,
    TrackBalance,
    to_reference,
    track_balance,
)
from zen.audio.loudness import integrated_lufs
from zen.errors import DataError

logger = logging.getLogger(__name__)

REFERENCE_LUFS = -14.0  # the chain's default target: a mastered track sits here
CACHE_VERSION = 3  # 3: loudness by zen's BS.1770-4 meter (0.05 LU above pyloudnorm's default)


@dataclass(frozen=True)
class DatasetConfig:
    """How many examples each track gives, and how they are made.

    Args:
        window_s: window length (as :class:`FeatureConfig`).
        sample_rate: analysis rate.
        n_bands: feature bands.
        fft_sizes: FFT sizes whose features are computed (the study).
        seconds_per_window: one window per this many seconds of the track...
        max_windows_per_track: ... but at most this many.
        degradations_per_window: random degradations of each window.
        quiet_below_db: windows this far below the track's RMS are skipped.
        seed: seeds window positions and degradations (per track, from its id).
    """

    window_s: float = 3.0
    sample_rate: int = 44_100
    n_bands: int = 32
    fft_sizes: tuple[int, ...] = FFT_SIZES
    seconds_per_window: float = 5.0
    max_windows_per_track: int = 32
    degradations_per_window: int = 4
    quiet_below_db: float = 20.0
    seed: int = 0
    sampler: DegradationSampler = field(default_factory=DegradationSampler)

    def feature_config(self, n_fft: int) -> FeatureConfig:
        return FeatureConfig(self.sample_rate, self.window_s, n_fft, self.n_bands)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetConfig:
        """The config of :meth:`to_json` output (as stored in the weights' config)."""
        return cls(
            **{
                **data,
                "fft_sizes": tuple(data["fft_sizes"]),
                "sampler": DegradationSampler(**data["sampler"]),
            }
        )


@dataclass
class Examples:
    """Examples of one or more tracks: features per FFT size, targets, and which track."""

    features: dict[int, np.ndarray]  # n_fft -> (n, n_features) float32
    targets: np.ndarray  # (n, 9) float32, scaled (see zen.audio.assistant.model)
    track: np.ndarray  # (n,) int: index into `tracks`
    tracks: list[str]

    def __len__(self) -> int:
        return len(self.targets)

    @classmethod
    def concatenate(cls, parts: Sequence[Examples]) -> Examples:
        if not parts:
            raise DataError(
                "no examples: the corpus split is empty; run tools/fetch_training_audio.py"
            )
        tracks: list[str] = []
        indices = []
        for part in parts:
            indices.append(part.track + len(tracks))
            tracks += part.tracks
        sizes = parts[0].features.keys()
        return cls(
            {size: np.concatenate([p.features[size] for p in parts]) for size in sizes},
            np.concatenate([p.targets for p in parts]),
            np.concatenate(indices),
            tracks,
        )


def _cache_key(
    track: Track, root: Path, config: DatasetConfig, reference: ReferenceBalance | None
) -> str:
    stamp = []
    for name in track.files:
        path = Path(name) if Path(name).is_absolute() else root / name
        stamp.append((path.name, path.stat().st_size))
    settings = {
        "version": CACHE_VERSION,
        "track": track.id,
        "files": stamp,
        **asdict(config),
        "reference": None if reference is None else reference.to_json(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[
        :20
    ]


def _cache_path(cache_dir: Path, track: Track, key: str, suffix: str) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    return cache_dir / f"{track.id.replace('/', '__').replace(' ', '_')}-{key}{suffix}"


def balance_of(
    track: Track, root: Path, config: DatasetConfig, cache_dir: Path | None
) -> TrackBalance:
    """The long-term balance of ``track`` as it is (cached: it only depends on the files)."""
    cached = None
    if cache_dir is not None:
        cached = _cache_path(cache_dir, track, _cache_key(track, root, config, None), ".json")
        if cached.is_file():
            try:
                data = json.loads(cached.read_text(encoding="utf-8"))
                return TrackBalance(np.array(data["balance_db"]), float(data["side_minus_mid_db"]))
            except (OSError, ValueError, KeyError, TypeError) as error:
                _unreadable(cached, error)
    audio = read_track(track, root, config.sample_rate)
    balance = track_balance(audio, config.sample_rate, config.n_bands)
    if cached is not None:
        text = json.dumps(
            {
                "balance_db": balance.balance_db.tolist(),
                "side_minus_mid_db": balance.side_minus_mid_db,
            }
        )
        write_atomic(cached, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return balance


def _unreadable(path: Path, error: BaseException) -> None:
    """A cache file that cannot be read (cut short by a crash, say) is a miss: rebuilt, replaced."""
    logger.warning(
        "%s: unreadable cache file (%s: %s); computing it again", path, type(error).__name__, error
    )


def corpus_reference(
    tracks: Sequence[Track], root: Path, config: DatasetConfig, cache_dir: Path | None
) -> ReferenceBalance:
    """The reference of ``tracks`` (the training tracks): mean balance, median width."""
    return ReferenceBalance.from_tracks([balance_of(t, root, config, cache_dir) for t in tracks])


def track_examples(
    track: Track,
    root: Path,
    config: DatasetConfig,
    cache_dir: Path | None,
    reference: ReferenceBalance | None = None,
) -> Examples:
    """The examples of one track, from ``cache_dir`` when they were made before."""
    cached = None
    if cache_dir is not None:
        key = _cache_key(track, root, config, reference)
        cached = _cache_path(cache_dir, track, key, ".npz")
        if cached.is_file():
            try:
                with np.load(cached, allow_pickle=False) as data:
                    features = {size: data[f"x{size}"] for size in config.fft_sizes}
                    targets = data["y"]
                return Examples(features, targets, np.zeros(len(targets), int), [track.id])
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                _unreadable(cached, error)
    audio = read_track(track, root, config.sample_rate)
    if reference is not None:
        balance = track_balance(audio, config.sample_rate, config.n_bands)
        audio = to_reference(audio, config.sample_rate, balance, reference)
    examples = make_examples(track, audio, config)
    if cached is not None:
        arrays: dict[str, Any] = {f"x{size}": array for size, array in examples.features.items()}

        def save(temporary: Path) -> None:
            with temporary.open("wb") as file:  # a file object: np.savez would add ".npz"
                np.savez(file, y=examples.targets, **arrays)

        # Atomic: a run stopped mid-write leaves the old cache or none, never half a file.
        write_atomic(cached, save)
    return examples


def make_examples(track: Track, audio: np.ndarray, config: DatasetConfig) -> Examples:
    """Cut, normalise, degrade and analyse ``audio`` (frames, 2) at ``config.sample_rate``."""
    rate = config.sample_rate
    lufs = integrated_lufs(audio, rate)
    if not np.isfinite(lufs):
        raise DataError(f"track {track.id}: is silent")
    audio = audio * np.float32(10.0 ** ((REFERENCE_LUFS - lufs) / 20.0))
    window = round(config.window_s * rate)
    if len(audio) < window:
        raise DataError(f"track {track.id}: shorter than one {config.window_s:g} s window")
    seed = int.from_bytes(
        hashlib.sha256(f"{config.seed}:{track.id}".encode()).digest()[:8], "little"
    )
    rng = np.random.default_rng(seed)
    track_rms_db = 10.0 * np.log10(float(np.mean(audio.astype(np.float64) ** 2)))
    wanted = int(
        min(config.max_windows_per_track, max(1, len(audio) / rate / config.seconds_per_window))
    )
    starts: list[int] = []
    for _ in range(wanted * 4):
        if len(starts) == wanted:
            break
        start = int(rng.integers(0, len(audio) - window + 1))
        segment = audio[start : start + window]
        if (
            10.0 * np.log10(float(np.mean(segment.astype(np.float64) ** 2)) + 1e-20)
            > track_rms_db - config.quiet_below_db
        ):
            starts.append(start)
    feature_configs = [config.feature_config(size) for size in config.fft_sizes]
    features: dict[int, list[np.ndarray]] = {size: [] for size in config.fft_sizes}
    targets = []
    for start in sorted(starts):
        segment = audio[start : start + window].astype(np.float64)
        for _ in range(config.degradations_per_window):
            degradation = config.sampler(rng)
            degraded = degradation.apply(segment, rate).astype(np.float32)
            for feature_config in feature_configs:
                features[feature_config.n_fft].append(window_features(degraded, feature_config))
            targets.append(corrections_to_targets(degradation.corrections()))
    if not targets:
        raise DataError(
            f"track {track.id}: no window louder than {config.quiet_below_db:g} dB below its RMS"
        )
    return Examples(
        {size: np.stack(rows) for size, rows in features.items()},
        np.stack(targets),
        np.zeros(len(targets), int),
        [track.id],
    )


def build_split(
    tracks: Sequence[Track],
    root: Path,
    config: DatasetConfig,
    cache_dir: Path | None,
    progress: Callable[[str], None] | None = None,
    reference: ReferenceBalance | None = None,
) -> Examples:
    """The examples of every track in ``tracks`` (brought to ``reference`` first, if given)."""
    parts = []
    for index, track in enumerate(tracks, 1):
        part = track_examples(track, root, config, cache_dir, reference)
        parts.append(part)
        message = f"[{index}/{len(tracks)}] {track.split} {track.id}: {len(part)} examples"
        logger.info(message)
        if progress is not None:
            progress(message)
    return Examples.concatenate(parts)
