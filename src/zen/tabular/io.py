"""Reading tables from files, with errors that say what is wrong with the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zen.errors import DataError


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file with errors that say what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data: file {str(path)!r} not found")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"data: {path} is not a readable CSV file ({error})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"data: {path} is empty") from None
    if frame.empty:
        raise DataError(f"data: {path} has a header but no rows")
    return frame
