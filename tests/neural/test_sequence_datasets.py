"""Sequence readers: the .ts format, long CSVs, train/test folders, and the digits images."""

from __future__ import annotations

import string
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from zen.errors import BackendUnavailable, ConfigError, DataError
from zen.neural import Trainer
from zen.neural.datasets import (
    SequenceSet,
    load_digits_images,
    load_sequences,
    load_ts,
    read_sequence_csv,
    write_ts,
)

HEADER = "@problemName Toy\n@univariate true\n@classLabel true a b\n@data\n"
TWO_DIMENSIONS = "@problemName Toy\n@dimensions 2\n@classLabel true a b\n@data\n"


def write(tmp_path: Path, text: str, name: str = "bad.ts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def padding_mask(sequences: SequenceSet) -> np.ndarray:
    """True where a step lies after its case's end, computed from ``lengths`` alone."""
    return np.arange(sequences.max_length) >= sequences.lengths[:, None]


# ------------------------------------------------------------------- the five shared sets
SHARED_SETS = [
    # name, train cases, test cases, channels, shortest, longest, classes in header order
    ("GunPoint", 50, 150, 1, 150, 150, ("1", "2")),
    ("ItalyPowerDemand", 67, 1029, 1, 24, 24, ("1", "2")),
    ("ArrowHead", 36, 175, 1, 251, 251, ("0", "1", "2")),
    ("BasicMotions", 40, 40, 6, 100, 100, ("Standing", "Running", "Walking", "Badminton")),
    ("JapaneseVowels", 270, 370, 12, 7, 29, tuple("123456789")),
]


@pytest.mark.parametrize(
    ("name", "n_train", "n_test", "channels", "shortest", "longest", "classes"), SHARED_SETS
)
def test_shared_sets_match_the_archive(
    shared_data, name, n_train, n_test, channels, shortest, longest, classes
) -> None:
    train, test = load_sequences(shared_data / "sequence" / name)
    for sequences, n_cases in ((train, n_train), (test, n_test)):
        assert sequences.name == name and sequences.task == "classification"
        assert sequences.X.dtype == np.float32
        assert (sequences.n_cases, sequences.n_channels) == (n_cases, channels)
        assert sequences.max_length == sequences.lengths.max()
        assert sequences.classes == classes
        # NaN exactly after each case's end, in every channel.
        assert np.array_equal(np.isnan(sequences.X).any(axis=1), padding_mask(sequences))
        assert np.array_equal(np.isnan(sequences.X).all(axis=1), padding_mask(sequences))
        codes = sequences.label_codes()
        assert codes.dtype == np.int64 and set(codes) == set(range(len(classes)))
    lengths = np.concatenate([train.lengths, test.lengths])
    assert (lengths.min(), lengths.max()) == (shortest, longest)


@pytest.mark.parametrize("name", [row[0] for row in SHARED_SETS])
def test_shared_sets_hold_the_files_numbers(shared_data, name) -> None:
    """The first and last case, split by hand, equal what the reader returns."""
    path = shared_data / "sequence" / name / f"{name}_TRAIN.ts"
    lines = path.read_text().splitlines()
    cases = lines[[line.strip().lower() for line in lines].index("@data") + 1 :]
    cases = [line for line in cases if line.strip()]
    sequences = load_ts(path)
    for index in (0, len(cases) - 1):
        *dimensions, label = cases[index].split(":")
        expected = np.array([[float(v) for v in d.split(",")] for d in dimensions], np.float32)
        assert sequences.y[index] == label.strip()
        length = sequences.lengths[index]
        assert np.array_equal(sequences.X[index, :, :length], expected)


@pytest.mark.parametrize("name", ["BasicMotions", "JapaneseVowels"])
def test_shared_sets_survive_write_ts(shared_data, tmp_path, name) -> None:
    original = load_ts(shared_data / "sequence" / name / f"{name}_TRAIN.ts")
    write_ts(tmp_path / "copy.ts", original)
    copy = load_ts(tmp_path / "copy.ts")
    assert np.array_equal(copy.X, original.X, equal_nan=True)
    assert np.array_equal(copy.y, original.y) and copy.classes == original.classes


# ------------------------------------------------------------------------ .ts format rules
def test_missing_values_are_interpolated_per_channel(tmp_path) -> None:
    path = write(tmp_path, TWO_DIMENSIONS + "?,2,?,4:1,?,,?:a\n1,2,3,4:5,6,7,8:b\n")
    sequences = load_ts(path)
    # Inside: linear; leading: the first observed value; trailing: the last one.
    assert sequences.X[0].tolist() == [[2, 2, 3, 4], [1, 1, 1, 1]]
    assert sequences.lengths.tolist() == [4, 4]


def test_trailing_steps_missing_in_every_dimension_are_padding(tmp_path) -> None:
    sequences = load_ts(write(tmp_path, TWO_DIMENSIONS + "1,2,?:3,4,?:a\n1,2,3:4,5,6:b\n"))
    assert sequences.lengths.tolist() == [2, 3]
    assert np.isnan(sequences.X[0, :, 2]).all()


def test_trailing_missing_steps_are_filled_when_lengths_are_declared_equal(tmp_path) -> None:
    header = "@equalLength true\n@seriesLength 3\n" + HEADER
    sequences = load_ts(write(tmp_path, header + "1,2,?:a\n1,2,3:b\n"))
    assert sequences.lengths.tolist() == [3, 3]
    assert sequences.X[0, 0].tolist() == [1, 2, 2]


def test_unequal_lengths_are_nan_padded(tmp_path) -> None:
    sequences = load_ts(write(tmp_path, HEADER + "1,2:a\n3,4,5,6:b\n7:a\n"))
    assert sequences.X.shape == (3, 1, 4)
    assert sequences.lengths.tolist() == [2, 4, 1]
    assert np.array_equal(np.isnan(sequences.X[:, 0]), padding_mask(sequences))
    assert sequences.label_codes().tolist() == [0, 1, 0]


def test_regression_targets_are_floats(tmp_path) -> None:
    text = "@problemName R\n@univariate true\n@targetLabel true\n@data\n1,2:0.5\n3,4:-2e3\n"
    sequences = load_ts(write(tmp_path, text))
    assert sequences.task == "regression" and sequences.classes == ()
    assert sequences.y.dtype == np.float64 and sequences.y.tolist() == [0.5, -2000.0]
    with pytest.raises(DataError, match="is regression, it has no classes"):
        sequences.label_codes()


def test_unlabeled_cases_have_no_label_field(tmp_path) -> None:
    text = "@univariate false\n@classLabel false\n@data\n1,2:3,4\n5,6:7,8\n"
    sequences = load_ts(write(tmp_path, text, "new.ts"))
    assert sequences.task == "unlabeled" and sequences.y is None
    assert sequences.name == "new"  # no @problemName: the file's stem
    assert sequences.X.shape == (2, 2, 2)


def test_windows_line_endings_comments_and_unknown_headers_are_accepted(tmp_path) -> None:
    text = "# a comment\r\n@problemName Toy\r\n@fancyNewTag 3\r\n" + HEADER.replace("\n", "\r\n")
    path = write(tmp_path, text + "1,2\t:a\r\n# between cases\r\n\r\n3,4:b\r\n")
    assert load_ts(path).X[:, 0].tolist() == [[1, 2], [3, 4]]


MALFORMED = [
    ("", r"bad\.ts: the file is empty"),
    ("# only a comment\n", r"bad\.ts: no @data line"),
    ("@classLabel true a b\n", r"bad\.ts: no @data line"),
    ("@classLabel true a b\n1,2:a\n", r"bad\.ts, line 2: a case before @data"),
    (HEADER, r"bad\.ts: no cases after @data \(line 4\)"),
    ("@problemName Toy\n@data\n1,2\n", r"line 2: the header has neither @classLabel nor"),
    ("@timeStamps true\n" + HEADER, r"line 1: @timeStamps true is not supported"),
    ("@univariate yes\n" + HEADER, r"line 1: @univariate takes true or false, got 'yes'"),
    ("@dimensions two\n@classLabel false\n@data\n", r"line 1: @dimensions takes a positive"),
    ("@classLabel true\n@data\n1:a\n", r"line 1: @classLabel true must list the class labels"),
    ("@classLabel true a a\n@data\n1:a\n", r"line 1: @classLabel lists a label twice"),
    ("@univariate true\n@dimensions 2\n@classLabel false\n@data\n", r"contradicts @dimensions"),
    (
        "@classLabel true a\n@targetLabel true\n@data\n1:a\n",
        r"line 3: the header has both @classLabel true and @targetLabel true",
    ),
    (TWO_DIMENSIONS + "1,2:3,4:a\n1,2:b\n", r"line 6: the case has 1 dimensions, expected 2"),
    (
        "@univariate false\n@classLabel true a b\n@data\n1:2:a\n1:2:3:b\n",
        r"line 5: the case has 3 dimensions, expected 2 as the first case \(line 4\) says",
    ),
    (HEADER + "1,2:c\n", r"line 5: label 'c' is not one of @classLabel a b"),
    (HEADER + "1,2\n", r"line 5: expected the values, then ':' and the label"),
    (HEADER + "1,2:a\n1,x:b\n", r"line 6: dimension 1, value 2: 'x' is not a number"),
    (HEADER + "1,inf:a\n", r"line 5: dimension 1, value 2 is infinite"),
    (TWO_DIMENSIONS + "1,2:3:a\n", r"line 5: the dimensions of the case have different lengths"),
    (TWO_DIMENSIONS + "1,2:?,?:a\n", r"line 5: dimension 2 has no value at all"),
    (HEADER + "?,?:a\n", r"line 5: the case has no value at all"),
    (
        "@equalLength true\n@seriesLength 3\n" + HEADER + "1,2,3:a\n1,2:b\n",
        r"line 8: the case has 2 values per dimension, @seriesLength says 3",
    ),
    (
        "@univariate true\n@targetLabel true\n@data\n1,2:high\n",
        r"line 4: target 'high' is not a number",
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_ts_files_name_the_file_and_line(tmp_path, text, message) -> None:
    with pytest.raises(DataError, match=message):
        load_ts(write(tmp_path, text))


def test_a_missing_ts_file_is_a_data_error(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_ts(tmp_path / "absent.ts")


# ------------------------------------------------------------------------------ round trip
LABEL = st.text(string.ascii_letters + string.digits + "-_.+", min_size=1, max_size=6)


@st.composite
def sequence_sets(draw: st.DrawFn) -> SequenceSet:
    n_cases = draw(st.integers(1, 6))
    n_channels = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 12), min_size=n_cases, max_size=n_cases))
    X = np.full((n_cases, n_channels, max(lengths)), np.nan, dtype=np.float32)
    finite = st.floats(width=32, allow_nan=False, allow_infinity=False)
    for index, length in enumerate(lengths):
        X[index, :, :length] = draw(arrays(np.float32, (n_channels, length), elements=finite))
    task = draw(st.sampled_from(["classification", "regression", "unlabeled"]))
    name = draw(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True))
    if task == "unlabeled":
        return SequenceSet(X, None, np.array(lengths), name=name, task="unlabeled")
    if task == "regression":
        targets = draw(
            st.lists(
                st.floats(allow_nan=False, allow_infinity=False), min_size=n_cases, max_size=n_cases
            )
        )
        return SequenceSet(X, np.array(targets), np.array(lengths), name=name, task="regression")
    classes = draw(st.lists(LABEL, min_size=1, max_size=4, unique=True))
    labels = draw(st.lists(st.sampled_from(classes), min_size=n_cases, max_size=n_cases))
    return SequenceSet(X, np.array(labels), np.array(lengths), classes=tuple(classes), name=name)


@settings(max_examples=60, deadline=None)
@given(sequence_sets())
def test_write_ts_then_load_ts_gives_the_same_set(sequences: SequenceSet) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "set.ts"
        write_ts(path, sequences)
        loaded = load_ts(path)
        assert [entry.name for entry in Path(folder).iterdir()] == ["set.ts"]  # no temp files
    assert np.array_equal(loaded.X, sequences.X, equal_nan=True)
    assert np.array_equal(loaded.lengths, sequences.lengths)
    assert (loaded.name, loaded.task, loaded.classes) == (
        sequences.name,
        sequences.task,
        sequences.classes,
    )
    if sequences.y is None:
        assert loaded.y is None
    else:
        assert np.array_equal(loaded.y, sequences.y)
        assert loaded.y.dtype.kind == sequences.y.dtype.kind


def test_write_ts_replaces_an_existing_file(tmp_path) -> None:
    path = write(tmp_path, "old content", "set.ts")
    sequences = load_ts(write(tmp_path, HEADER + "1,2:a\n3:b\n", "source.ts"))
    write_ts(path, sequences)
    assert np.array_equal(load_ts(path).X, sequences.X, equal_nan=True)


@pytest.mark.parametrize("label", ["two words", "a:b", ""])
def test_write_ts_refuses_labels_the_format_cannot_hold(tmp_path, label) -> None:
    sequences = SequenceSet(np.ones((1, 1, 2)), np.array([label]), np.array([2]), classes=(label,))
    with pytest.raises(DataError, match=r"cannot be written to a \.ts file"):
        write_ts(tmp_path / "set.ts", sequences)
    assert not (tmp_path / "set.ts").exists()


# --------------------------------------------------------------------------- SequenceSet
@pytest.mark.parametrize(
    ("X", "lengths", "message"),
    [
        (np.ones((2, 3)), [3, 3], r"X: expected a non-empty \(n_cases, n_channels, max_length\)"),
        (np.ones((2, 1, 3)), [3], r"lengths: expected 2 integers"),
        (np.ones((2, 1, 3)), [3, 4], r"lengths: case 1 has length 4; expected 1..3"),
        (np.ones((2, 1, 3)), [3, 2], r"case 1 \(length 2\) has a value after its end at step 2"),
        (np.array([[[1, np.nan, 3]]] * 2), [3, 3], r"case 0 \(length 3\) has a NaN or infinite"),
    ],
)
def test_sequence_set_checks_the_padding(X, lengths, message) -> None:
    with pytest.raises(DataError, match=message):
        SequenceSet(X, None, np.array(lengths), task="unlabeled")


def test_sequence_set_checks_the_labels() -> None:
    X, lengths = np.ones((2, 1, 3)), np.array([3, 3])
    with pytest.raises(DataError, match=r"y: label 'c' of case 1 is not one of classes"):
        SequenceSet(X, np.array(["a", "c"]), lengths, classes=("a", "b"))
    with pytest.raises(DataError, match="classes: a classification set needs its class labels"):
        SequenceSet(X, np.array(["a", "a"]), lengths)
    with pytest.raises(ConfigError, match="task: unknown value 'ranking'"):
        SequenceSet(X, np.array(["a", "a"]), lengths, classes=("a",), task="ranking")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- long CSV
def long_frame() -> pd.DataFrame:
    # Rows out of order; sequence "s2" appears first; one missing value in "x" of "s1".
    return pd.DataFrame(
        {
            "sequence_id": ["s2", "s1", "s1", "s2", "s1"],
            "t": ["2024-01-01 00:00:01", "2024-01-01 00:00:02", "2024-01-01", "2024-01-01",
                  "2024-01-01 00:00:01"],
            "x": [2.0, 5.0, 1.0, 1.0, None],
            "y": [20.0, 50.0, 10.0, 10.0, 30.0],
            "label": ["up", "down", "down", "up", "down"],
        }
    )  # fmt: skip


def test_long_csv_orders_steps_by_time_and_sequences_by_first_row() -> None:
    sequences = read_sequence_csv(long_frame(), name="toy")
    assert sequences.lengths.tolist() == [2, 3]
    assert sequences.X[0, :, :2].tolist() == [[1, 2], [10, 20]]
    assert sequences.X[1].tolist() == [[1, 3, 5], [10, 30, 50]]  # the gap is interpolated
    assert np.isnan(sequences.X[0, :, 2]).all()
    assert list(sequences.y) == ["up", "down"] and sequences.classes == ("down", "up")
    assert sequences.label_codes().tolist() == [1, 0]


def test_long_csv_file_reads_question_marks_as_missing(tmp_path) -> None:
    path = tmp_path / "walks.csv"
    path.write_text("sequence_id,t,x,label\n1,0,1.0,7\n1,2,5.0,7\n1,1,?,7\n2,0,4.0,10\n2,1,5,10\n")
    for sequences in (read_sequence_csv(path), load_sequences(path)):
        assert isinstance(sequences, SequenceSet)
        assert sequences.name == "walks"
        assert sequences.X[0, 0].tolist() == [1, 3, 5]
        assert sequences.classes == ("7", "10")  # numbers sort as numbers


def test_long_csv_infers_regression_from_fractional_labels() -> None:
    frame = long_frame().assign(label=[0.5, 1.5, 1.5, 0.5, 1.5])
    sequences = read_sequence_csv(frame)
    assert sequences.task == "regression" and sequences.y.tolist() == [0.5, 1.5]
    assert read_sequence_csv(frame.assign(label=1.0), task="regression").task == "regression"


def test_long_csv_without_labels_and_with_chosen_columns() -> None:
    frame = long_frame().drop(columns="label").rename(columns={"sequence_id": "id"})
    sequences = read_sequence_csv(frame, id_column="id", label_column=None, value_columns=["y"])
    assert sequences.task == "unlabeled" and sequences.n_channels == 1
    assert sequences.X[1, 0].tolist() == [10, 30, 50]


def test_long_csv_accepts_datetime_columns_with_time_zones() -> None:
    frame = long_frame()
    frame["t"] = pd.to_datetime(frame["t"], format="ISO8601").dt.tz_localize("Europe/Rome")
    assert read_sequence_csv(frame).X[1, 0].tolist() == [1, 3, 5]


CSV_ERRORS = [
    (lambda f: f.drop(columns="label"), r"column 'label' not found.*label_column=None"),
    (lambda f: f.drop(columns="t"), r"column 't' not found"),
    (lambda f: f.assign(label=["up", "down", "up", "up", "down"]), r"'s1' has two labels"),
    (lambda f: f.assign(x=[2.0, "abc", 1.0, 1.0, 3.0]), r"'x' at row 1: 'abc' is not a number"),
    (lambda f: f.assign(t="2024-01-01"), r"sequence 's2' has two rows at t='2024-01-01'"),
    (lambda f: f.assign(t=[0, 1, 2, 3, "soon"]), r"column 't' at row 4: 'soon' is neither"),
    (lambda f: f.assign(sequence_id=["s2", None, "s1", "s2", "s1"]), r"'sequence_id' is empty"),
    (lambda f: f.assign(x=[2.0, None, None, 1.0, None]), r"'s1': column 'x' has no value"),
    (lambda f: f.assign(label=["up", None, "down", "up", "down"]), r"'label' is empty at row 1"),
    (lambda f: f.assign(y=np.inf), r"column 'y' is infinite at row 0"),
    (lambda f: f.iloc[:0], r"the frame: has no rows"),
]


@pytest.mark.parametrize(("change", "message"), CSV_ERRORS)
def test_long_csv_errors_name_the_column_and_sequence(change, message) -> None:
    with pytest.raises(DataError, match=message):
        read_sequence_csv(change(long_frame()))


def test_long_csv_checks_its_settings() -> None:
    with pytest.raises(DataError, match=r"sequence 's2' has label 'up', not one of classes"):
        read_sequence_csv(long_frame(), classes=["down", "flat"])
    with pytest.raises(DataError, match=r"sequence 's2' has label 'up', not a number"):
        read_sequence_csv(long_frame(), task="regression")
    with pytest.raises(ConfigError, match="task: unknown value"):
        read_sequence_csv(long_frame(), task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="value_columns"):
        read_sequence_csv(long_frame(), value_columns=["x", "label"])


# ------------------------------------------------------------------------- load_sequences
def test_a_folder_gives_train_and_test_with_the_training_class_order(tmp_path) -> None:
    write(tmp_path, HEADER + "1,2:a\n3,4:b\n", "Toy_TRAIN.ts")
    write(tmp_path, HEADER.replace("true a b", "true b a") + "5,6:b\n", "Toy_TEST.ts")
    train, test = load_sequences(tmp_path)
    assert train.classes == test.classes == ("a", "b")
    assert test.label_codes().tolist() == [1]


FOLDER_ERRORS = [
    ({}, r"expected one pair NAME_TRAIN.ts \+ NAME_TEST.ts, found 0 \(none\)"),
    ({"A_TRAIN.ts": "", "A_TEST.ts": "", "B_TRAIN.ts": "", "B_TEST.ts": ""}, r"found 2 \(A, B\)"),
    (
        {"A_TRAIN.ts": HEADER + "1:a\n", "A_TEST.ts": HEADER.replace("a b", "a c") + "1:c\n"},
        r"A_TEST.ts: case 0 has label 'c', which the training set's @classLabel a b",
    ),
    (
        {"A_TRAIN.ts": HEADER + "1:a\n", "A_TEST.ts": TWO_DIMENSIONS + "1:2:a\n"},
        r"A_TEST.ts: cases have 2 dimensions, the training set's 1",
    ),
]


@pytest.mark.parametrize(("files", "message"), FOLDER_ERRORS)
def test_a_folder_without_one_matching_pair_is_refused(tmp_path, files, message) -> None:
    for name, text in files.items():
        write(tmp_path, text, name)
    with pytest.raises(DataError, match=message):
        load_sequences(tmp_path)


def test_load_sequences_refuses_unknown_paths(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load_sequences(tmp_path / "absent.ts")
    with pytest.raises(DataError, match=r"unknown suffix '\.arff'"):
        load_sequences(write(tmp_path, "", "set.arff"))


# ------------------------------------------------------------------ into the Trainer as is
class MeanPool(nn.Module):
    """The smallest network that reads NaN-padded sequences: a masked mean, then a linear map."""

    nan_padding = True

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        real = ~torch.isnan(x).any(dim=1, keepdim=True)
        mean = torch.nan_to_num(x).sum(-1) / real.sum(-1)
        return self.linear(mean)


def test_a_set_read_from_disk_trains_with_the_trainer(tmp_path) -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 10, size=40)
    labels = np.array(["low", "high"] * 20)
    X = np.full((40, 2, 10), np.nan, dtype=np.float32)
    for index, length in enumerate(lengths):
        level = 1.0 if labels[index] == "high" else -1.0
        X[index, :, :length] = level + 0.3 * rng.normal(size=(2, length))
    write_ts(tmp_path / "t.ts", SequenceSet(X, labels, lengths, classes=("low", "high")))
    sequences = load_ts(tmp_path / "t.ts")
    torch.manual_seed(0)
    model = MeanPool(2, 2)
    Trainer(max_epochs=15, loss="cross_entropy", seed=0, val_split=0.0, lr=0.1).fit(
        model, sequences.X, sequences.label_codes()
    )
    with torch.no_grad():
        predicted = model(torch.from_numpy(sequences.X)).argmax(-1).numpy()
    assert (predicted == sequences.label_codes()).mean() >= 0.95


# --------------------------------------------------------------------------------- digits
def test_digits_images_are_scaled_8x8_images() -> None:
    pytest.importorskip("sklearn")
    X, y = load_digits_images()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(y.tolist()) == set(range(10))


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(BackendUnavailable, match="pip install scikit-learn"):
        load_digits_images()
