"""Offline mastering of a file: read, check, run the master chain, write, report."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from zen.audio.chain import MasterChain
from zen.audio.io import (
    LOSSY_SUBTYPES,
    AudioFile,
    clipping,
    output_format,
    read_audio,
    write_audio,
)
from zen.audio.loudness import integrated_lufs, sample_peak_dbfs, true_peak_dbtp
from zen.audio.matching import analysis_frequencies, average_spectrum
from zen.audio.presets import ChainSettings, apply_corrections, load_assistant
from zen.audio.presets import preset as find_preset
from zen.audio.report import plot_report, write_json_report
from zen.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

LOUDNESS_TOLERANCE_LU = 0.5  # the target counts as reached within this
CURVE_RATE_HZ = 20  # gain-reduction curves in the report: one point per 50 ms


def report_paths(dst: str | Path) -> tuple[Path, Path]:
    """Where the report of a master written to ``dst`` goes: ``<dst>.report.json`` and ``.png``.

    >>> [path.name for path in report_paths("out/master.wav")]
    ['master.report.json', 'master.report.png']
    """
    dst = Path(dst)
    return dst.with_suffix(".report.json"), dst.with_suffix(".report.png")


def master_file(
    src: str | Path,
    dst: str | Path,
    target_lufs: float = -14.0,
    ceiling_dbtp: float = -1.0,
    reference: str | Path | None = None,
    *,
    preset: str = "transparent",
    settings: ChainSettings | None = None,
    assistant: bool = False,
    write_report: bool = True,
    plot: bool = False,
    native: bool | None = None,
) -> dict[str, Any]:
    """Master the audio file ``src`` into ``dst`` and return a report.

    Args:
        src: WAV, FLAC or OGG, any sample rate, mono or stereo. Only ever read.
        dst: output file; its extension picks the format (.wav and .flac: 24-bit PCM, .ogg:
            Vorbis). Written atomically.
        target_lufs: integrated loudness of the master (BS.1770-4). With ``reference`` the
            reference's loudness is the target instead.
        ceiling_dbtp: highest true peak of the master.
        reference: a track whose spectral balance and loudness to match.
        preset: starting settings (see :data:`zen.audio.PRESETS`); ``settings`` overrides.
        assistant: apply the assistant's corrections (needs ``zen.audio.assistant``).
        write_report: also write ``<dst stem>.report.json``.
        plot: also draw the report as ``<dst stem>.report.png`` (matplotlib: it takes longer
            than mastering a 30 s track, so only on request).
        native: DSP path (None: ``ZEN_AUDIO_NATIVE``).

    Returns:
        The report: input and output loudness and peaks, target, timings, settings, warnings
        and curves (spectra, gain reduction); see the JSON file for the full layout. Every
        quantity is measured once: the output's loudness is the one the chain's last loudness
        pass measured on the master it returns; a 24-bit file holds that master to within
        2^-23 (far below what a meter resolves). A lossy (Vorbis) master is read back and
        measured again, since encoding moves its loudness and peaks.

    Raises:
        DataError: unreadable, empty, silent, NaN or more than two channels, in ``src`` or
            ``reference``; ConfigError: bad arguments (``dst`` equal to ``src``, unknown
            extension or preset); BackendUnavailable: ``assistant`` without the model.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    output_format(dst)  # an unsupported extension fails before any work
    if dst.resolve() == src.resolve() or (dst.exists() and src.exists() and dst.samefile(src)):
        raise ConfigError(f"output {dst}: is the input file; mastering never overwrites its input")
    if not np.isfinite(target_lufs) or not -60.0 <= target_lufs <= 0.0:
        raise ConfigError(f"target_lufs: expected a value in [-60, 0] LUFS, got {target_lufs!r}")
    if not np.isfinite(ceiling_dbtp) or not -30.0 <= ceiling_dbtp <= 0.0:
        raise ConfigError(f"ceiling_dbtp: expected a value in [-30, 0] dBTP, got {ceiling_dbtp!r}")
    chosen = settings if settings is not None else find_preset(preset)
    limiter = dataclasses.replace(
        chosen.limiter, target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp
    )
    chosen = chosen.replace(limiter=limiter)
    source = read_audio(src, "input")
    warnings: list[str] = []
    clip = clipping(source.audio)
    if clip["clipped_samples"]:
        warnings.append(
            f"input clips: {clip['clipped_samples']} samples at full scale in"
            f" {clip['clipped_runs']} runs; the master keeps that distortion"
        )
    if clip["over_full_scale"]:
        warnings.append(
            f"input has {clip['over_full_scale']} frames beyond full scale (float file)"
        )
    input_lufs = integrated_lufs(source.audio, source.sample_rate)
    if not np.isfinite(input_lufs):
        raise DataError(
            f"input {src}: is silent (every 400 ms block is below the -70 LUFS gate); there is"
            " nothing to master"
        )
    ref_file: AudioFile | None = None
    target = float(target_lufs)
    if reference is not None:
        ref_file = read_audio(reference, "reference")
        target = integrated_lufs(ref_file.audio, ref_file.sample_rate)
        if not np.isfinite(target):
            raise DataError(f"reference {reference}: is silent; it has no loudness to match")
    assistant_info = None
    if assistant:
        suggest = load_assistant()
        corrections = suggest(source.audio, source.sample_rate)
        chosen = apply_corrections(chosen, corrections)
        assistant_info = {"corrections": dataclasses.asdict(corrections)}

    chain_started = time.perf_counter()
    chain = MasterChain(
        chosen, sample_rate=source.sample_rate, channels=source.channels, native=native
    )
    mastered = chain.fit_process(
        source.audio,
        None if ref_file is None else ref_file.audio,
        None if ref_file is None else ref_file.sample_rate,
    )
    processing_s = time.perf_counter() - chain_started
    compressor_db = np.array(chain.compressor.gain_reduction_db[: len(mastered)])
    limiter_db = np.array(chain.limiter.gain_reduction_db[: len(mastered)])

    written_format, written_subtype = write_audio(dst, mastered, source.sample_rate)
    written = mastered
    output_lufs = chain.output_lufs_
    if written_subtype in LOSSY_SUBTYPES:  # encoding changed the signal: measure the file
        written = read_audio(dst, "output").audio
        output_lufs = integrated_lufs(written, source.sample_rate)
    output_peak = true_peak_dbtp(written, source.sample_rate)
    error_lu = output_lufs - target
    if abs(error_lu) > LOUDNESS_TOLERANCE_LU:
        warnings.append(
            f"loudness target missed by {error_lu:+.2f} LU (gain limited to"
            f" {chain.loudness_gain_db_:+.1f} dB or the limiter working hard)"
        )
    if output_peak > ceiling_dbtp + 0.05:
        warnings.append(
            f"true peak {output_peak:.2f} dBTP is above the ceiling after encoding to"
            f" {written_subtype}"
        )
    report: dict[str, Any] = {
        "input": {
            "path": str(src),
            "format": source.format,
            "subtype": source.subtype,
            "sample_rate": source.sample_rate,
            "channels": source.channels,
            "frames": len(source.audio),
            "duration_s": round(source.duration_s, 4),
            "integrated_lufs": _rounded(input_lufs),
            "true_peak_dbtp": _rounded(true_peak_dbtp(source.audio, source.sample_rate)),
            "sample_peak_dbfs": _rounded(sample_peak_dbfs(source.audio)),
            **clip,
        },
        "output": {
            "path": str(dst),
            "format": written_format,
            "subtype": written_subtype,
            "integrated_lufs": _rounded(output_lufs),
            "true_peak_dbtp": _rounded(output_peak),
            "sample_peak_dbfs": _rounded(sample_peak_dbfs(written)),
        },
        "target": {
            "integrated_lufs": _rounded(target),
            "source": "reference" if ref_file is not None else "argument",
            "ceiling_dbtp": ceiling_dbtp,
            "loudness_error_lu": _rounded(error_lu),
            "reached": bool(abs(error_lu) <= LOUDNESS_TOLERANCE_LU and output_peak <= ceiling_dbtp),
        },
        "chain": {
            "preset": chosen.name,
            "settings": chain.settings.to_dict(),
            "latency_samples": chain.latency_samples,
            "native": chain.native,
            "loudness_gain_db": _rounded(chain.loudness_gain_db_),
            "loudness_iterations": chain.loudness_iterations_,
            "limiter_input_lufs": _rounded(chain.input_lufs_),
        },
        "assistant": assistant_info,
        "reference": None,
        "processing_time_s": round(processing_s, 4),
        "realtime_factor": round(source.duration_s / processing_s, 1) if processing_s else None,
        "warnings": warnings,
        "curves": _curves(source, written, ref_file, compressor_db, limiter_db),
    }
    if ref_file is not None and chain.match_ is not None:
        report["reference"] = {
            "path": str(reference),
            "sample_rate": ref_file.sample_rate,
            "channels": ref_file.channels,
            "integrated_lufs": _rounded(target),
            "match": chain.match_.to_json(),
        }
    json_path, png_path = report_paths(dst)
    if write_report:
        report["report_json"] = str(json_path)
    if plot:
        report["report_png"] = str(png_path)
    report["total_time_s"] = round(time.perf_counter() - started, 4)
    if write_report:
        write_json_report(report, json_path)
    if plot:
        plot_report(report, png_path)  # imports matplotlib, only now
    for warning in warnings:
        logger.info("%s: %s", src, warning)
    return report


def _rounded(value: float) -> float | None:
    """Two decimals; None for -inf / NaN (JSON has no infinity)."""
    return round(float(value), 2) if np.isfinite(value) else None


def _curves(
    source: AudioFile,
    master: np.ndarray,
    reference: AudioFile | None,
    compressor_db: np.ndarray,
    limiter_db: np.ndarray,
) -> dict[str, Any]:
    freqs = analysis_frequencies(source.sample_rate)[::4]
    spectrum: dict[str, Any] = {
        "freqs_hz": np.round(freqs, 1).tolist(),
        "input_db": np.round(average_spectrum(source.audio, source.sample_rate, freqs), 2).tolist(),
        "output_db": np.round(average_spectrum(master, source.sample_rate, freqs), 2).tolist(),
    }
    if reference is not None:
        ref_freqs = freqs[freqs < 0.45 * reference.sample_rate]
        ref_db = average_spectrum(reference.audio, reference.sample_rate, ref_freqs)
        spectrum["reference_freqs_hz"] = np.round(ref_freqs, 1).tolist()
        spectrum["reference_db"] = np.round(ref_db, 2).tolist()
    hop = max(1, source.sample_rate // CURVE_RATE_HZ)
    count = len(compressor_db) // hop
    return {
        "spectrum": spectrum,
        "gain_reduction": {
            "times_s": np.round(np.arange(count) * hop / source.sample_rate, 3).tolist(),
            "compressor_db": np.round(
                compressor_db[: count * hop].reshape(count, hop).max(axis=1), 2
            ).tolist(),
            "limiter_db": np.round(
                limiter_db[: count * hop].reshape(count, hop).max(axis=1), 2
            ).tolist(),
        },
    }
