"""TabularModel under scikit-learn: its estimator checks, pipelines, cross-validation, search."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from zen.tabular import TabularModel

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

#: Small and quick, yet enough to pass the checks' accuracy (> 0.83) and R² (> 0.5) floors.
FAST = {
    "hidden_layers": (16,),
    "max_epochs": 20,
    "lr": 0.05,
    "batch_size": 512,
    "early_stopping": None,
    "val_split": 0.0,
}


def expected_failed_checks(estimator: TabularModel) -> dict[str, str]:
    """The scikit-learn checks TabularModel does not pass, and why (zen never imports it)."""
    failures = {
        "check_estimators_unfitted": "predict before fit raises zen.NotFittedError (a ZenError,"
        " like every zen error), not scikit-learn's NotFittedError class, which zen cannot"
        " raise without importing scikit-learn",
    }
    if estimator.task != "auto":
        failures["check_supervised_y_2d"] = (
            "a column-vector y is flattened with a UserWarning; the check wants scikit-learn's"
            " own DataConversionWarning class"
        )
    return failures


with warnings.catch_warnings():
    # zen's estimators follow the contract without inheriting from scikit-learn, on purpose.
    warnings.filterwarnings("ignore", "Estimator TabularModel does not inherit", UserWarning)
    SET_TASKS = parametrize_with_checks(
        [TabularModel(task="classification", **FAST), TabularModel(task="regression", **FAST)],
        expected_failed_checks=expected_failed_checks,
    )
    AUTO_TASK = parametrize_with_checks(
        [TabularModel(**FAST)], expected_failed_checks=expected_failed_checks
    )


@SET_TASKS
def test_passes_scikit_learns_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.mark.slow
@AUTO_TASK
def test_passes_scikit_learns_estimator_checks_with_task_auto(estimator, check) -> None:
    check(estimator)


@pytest.fixture
def table() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Numeric and text columns, a label and a value, 240 rows."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=240), "b": rng.normal(size=240), "city": rng.choice(["x", "y"], 240)}
    )
    signal = frame["a"] - frame["b"] + (frame["city"] == "x")
    return frame, np.where(signal > 0.5, "high", "low"), signal.to_numpy() * 3 + 1


def test_fit_takes_arrays_frames_and_a_column_name_alike(table) -> None:
    frame, labels, _ = table
    numeric = frame[["a", "b"]]
    by_name = TabularModel(task="classification", **FAST).fit(numeric.assign(t=labels), "t")
    by_keyword = TabularModel(task="classification", **FAST).fit(
        numeric.assign(t=labels), target="t"
    )
    by_frame = TabularModel(task="classification", **FAST).fit(numeric, labels)
    by_array = TabularModel(task="classification", **FAST).fit(numeric.to_numpy(), labels)
    expected = by_name.predict(numeric)
    np.testing.assert_array_equal(by_keyword.predict(numeric), expected)
    np.testing.assert_array_equal(by_frame.predict(numeric), expected)
    np.testing.assert_array_equal(by_array.predict(numeric.to_numpy()), expected)
    assert list(by_frame.feature_names_in_) == ["a", "b"] and by_frame.n_features_in_ == 2
    assert not hasattr(by_array, "feature_names_in_") and by_array.n_features_in_ == 2


def test_score_is_accuracy_or_r2(table) -> None:
    frame, labels, values = table
    classifier = TabularModel(task="classification", **FAST).fit(frame, labels)
    assert classifier.score(frame, labels) == np.mean(classifier.predict(frame) == labels)
    regressor = TabularModel(task="regression", **FAST).fit(frame, values)
    residual = np.sum((values - regressor.predict(frame)) ** 2)
    expected = 1 - residual / np.sum((values - values.mean()) ** 2)
    assert regressor.score(frame, values) == pytest.approx(expected)
    assert regressor.score(frame.assign(v=values), "v") == pytest.approx(expected)


def test_regressors_have_no_predict_proba(table) -> None:
    frame, _, values = table
    assert not hasattr(TabularModel(task="regression"), "predict_proba")
    fitted = TabularModel(**FAST).fit(frame, values)
    with pytest.raises(AttributeError, match="only classification models have probabilities"):
        fitted.predict_proba(frame)


def test_works_in_a_pipeline_with_cross_validation(table) -> None:
    frame, labels, _ = table
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", TabularModel(task="classification", **FAST))]
    )
    scores = cross_val_score(pipeline, frame[["a", "b"]].to_numpy(), labels, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8


def test_grid_search_selects_settings_on_the_validation_folds(table) -> None:
    frame, _, values = table
    search = GridSearchCV(
        TabularModel(task="regression", **FAST), {"max_epochs": [1, 20]}, cv=3
    ).fit(frame, values)
    assert search.best_params_ == {"max_epochs": 20}
    assert isinstance(search.best_estimator_, TabularModel)
    assert search.best_estimator_.get_params()["max_epochs"] == 20


def test_roc_auc_scoring_reads_the_classes(table) -> None:
    """scikit-learn's probability scorers index ``classes_`` as an array."""
    frame, labels, _ = table
    model = TabularModel(task="classification", **FAST)
    assert cross_val_score(model, frame, labels, cv=3, scoring="roc_auc").mean() > 0.8


def test_sklearn_clone_keeps_settings_and_drops_the_fit(table) -> None:
    frame, labels, _ = table
    model = TabularModel(task="classification", **FAST).fit(frame, labels)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "network_")


def test_zen_does_not_import_sklearn_by_itself() -> None:
    """scikit-learn is a test dependency: using TabularModel must not need it."""
    import subprocess

    code = (
        "import sys, numpy as np; from zen.tabular import TabularModel;"
        "TabularModel(max_epochs=1).fit(np.arange(20.0).reshape(10, 2), [0, 1] * 5).predict("
        "np.zeros((2, 2))); assert 'sklearn' not in sys.modules, 'sklearn imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
