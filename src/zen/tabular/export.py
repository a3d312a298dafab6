"""The export plan of a :class:`~zen.tabular.TabularModel`: encoded rows in, predictions out."""

from __future__ import annotations

from typing import Any

from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    TRACE_BATCH,
    ExportPlan,
    TensorSpec,
    batch_checks,
    random_inputs,
)


def tabular_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a fitted TabularModel (its network with the target mapped back)."""
    model._fitted_profile()
    preprocessor = model.preprocessor_
    width = preprocessor.n_features_out
    inputs = (
        TensorSpec(
            "features",
            ("batch", width),
            description="rows encoded by TablePreprocessor (see preprocessing)",
        ),
    )
    module = model.output_module()
    if model.classification:
        outputs = (
            TensorSpec(
                "logits",
                ("batch", len(model.classes_)),
                description="class scores; argmax indexes model.classes, softmax gives"
                " probabilities",
            ),
        )
        task = {"task": "classification", "classes": model.classes_.tolist()}
    else:
        outputs = (
            TensorSpec("prediction", ("batch",), description="predicted value in target units"),
        )
        task = {
            "task": "regression",
            "target_mean": model.target_mean_,
            "target_scale": model.target_scale_,
        }
    return ExportPlan(
        family="tabular",
        model_class=type(model).__name__,
        module=module,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH},
        check_sizes=batch_checks(batch_sizes),
        make_inputs=random_inputs(inputs),
        metadata={
            "model": {
                **task,
                "target": model.profile_.target,
                "feature_names": list(preprocessor.feature_names_),
                "layer_sizes": list(model.network_.layer_sizes),
            },
            "preprocessing": preprocessor.state(),
            "normalization": {
                "outside_graph": (
                    "encode rows with zen.tabular.TablePreprocessor.from_state(preprocessing)"
                    ".transform(frame): numeric columns NaN -> median, then (x - mean) / scale;"
                    " text columns one-hot over levels (unseen levels: all zeros)"
                ),
                "inside_graph": (
                    "regression: the standardised output is mapped back,"
                    " prediction = output * target_scale + target_mean"
                    if not model.classification
                    else "none: outputs are logits"
                ),
            },
        },
        axes={"batch": "rows per call"},
    )
