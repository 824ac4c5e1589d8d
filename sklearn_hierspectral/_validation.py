"""Input checks shared by the estimators."""

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data as _sklearn_validate_data


class IntegerInterval(Interval):
    """An integer interval of ``_parameter_constraints`` that refuses bools,
    which ``Integral`` admits (``n_components=True`` is never meant as 1)."""

    def is_satisfied_by(self, val):
        if isinstance(val, (bool, np.bool_)):
            return False
        return super().is_satisfied_by(val)


def validate_data(*args, **kwargs):
    """scikit-learn's ``validate_data`` without its overflow warnings.

    Its finiteness check sums the array first; on finite values near the
    float limits (X * 1e307) that sum overflows and numpy warns about an
    overflow the user did not make. The check then falls back to an
    element-wise test, so the result is unchanged.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _sklearn_validate_data(*args, **kwargs)


def as_real_array(name, values):
    """``values`` as a float array; complex or non-numeric values are a
    TypeError (numpy would drop an imaginary part with a warning, or raise
    from deep inside a cast)."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers.") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers; got complex values.")
    try:
        return array.astype(float, copy=False)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.") from None


def check_numeric_target(y):
    """Refuse targets that are not numbers, before numpy tries to sum them."""
    if y is None:
        return
    dtype = getattr(y, "dtype", None)
    if dtype is None or not hasattr(dtype, "kind"):
        try:
            dtype = np.asarray(y).dtype
        except (TypeError, ValueError):
            return  # validate_data gives its own message
    if dtype.kind in "USaMmV":
        raise ValueError(
            f"y must be numeric; got an array of dtype {dtype} (strings, bytes, "
            "dates or records). Convert the target to numbers, e.g. "
            "y.astype(float) or pandas.to_numeric(y), before fitting."
        )


def check_results_table(results, producer="scaling_study"):
    """``results`` as a DataFrame, or a TypeError saying what was expected.

    Accepts the DataFrame of ``producer`` or its rows (a list of dicts, a
    dict of columns); refuses a path, a number or anything pandas would turn
    into a table of the wrong shape with an obscure message.
    """
    import pandas as pd

    if isinstance(results, pd.DataFrame):
        return _check_table_columns(results)
    expected = (
        f"results must be the DataFrame returned by {producer} (or its rows as a "
        "list of dicts)"
    )
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        hint = "; to read a CSV file, pass pandas.read_csv(path)" if isinstance(
            results, str
        ) else ""
        raise TypeError(f"{expected}; got {type(results).__name__}{hint}.")
    try:
        table = pd.DataFrame(results)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{expected}; {type(results).__name__} does not convert to one: {error}"
        ) from None
    return _check_table_columns(table)


def check_study_table(results):
    """The table of :func:`scaling_study` (see :func:`check_results_table`),
    with its columns ``estimator``, ``n_samples`` and ``test_nmse``, the last
    two real numbers (not bools or complex)."""
    import pandas as pd

    results = check_results_table(results)
    missing = {"estimator", "n_samples", "test_nmse"} - set(results.columns)
    if missing:
        raise ValueError(
            f"results lacks the column(s) {sorted(missing)}; expected the "
            "DataFrame of scaling_study."
        )
    for column in ("n_samples", "test_nmse"):
        dtype = results[column].dtype
        if (
            not pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype)
        ):
            raise ValueError(f"results[{column!r}] must hold numbers; got dtype {dtype}.")
    return results


def _check_table_columns(table):
    """Refuse duplicated columns and unnamed rows, which pandas turns into
    obscure errors (a 2-D 'column') or silently dropped rows (NaN names)."""
    duplicated = table.columns[table.columns.duplicated()]
    if len(duplicated):
        raise ValueError(
            f"results has duplicate column(s) {sorted(map(str, set(duplicated)))}; "
            "keep one of each."
        )
    if "estimator" in table.columns and table["estimator"].isna().any():
        raise ValueError(
            f"results has {int(table['estimator'].isna().sum())} row(s) without an "
            "estimator name; name them or drop them."
        )
    return table


def check_bool(name, value):
    """Refuse anything but a bool, e.g. ``fit="no"``, which is truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(value)
