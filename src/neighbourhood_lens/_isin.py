"""Membership tests on pandas' Arrow-backed strings at hashing speed: :func:`isin`.

pandas 3 stores text as Arrow strings (dtype ``str``), and its ``Series.isin`` for them
builds one ``pyarrow.scalar`` per wanted value in a Python loop before hashing: a look-up of
35,000 LSOA codes takes about 0.2 s, and the analyses do hundreds of them (a quarter of the
time of ``nlens report`` went there). :func:`isin` gives the same answer by converting the
wanted values to one Arrow array and calling ``pyarrow.compute.is_in``, and hands every other
case (numbers, Python-object strings, mixed or non-text wanted values, data frames) to pandas.
Every wing uses it in place of ``.isin``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["isin"]


@overload
def isin(obj: pd.Series, values: Iterable[object]) -> pd.Series: ...
@overload
def isin(obj: pd.Index, values: Iterable[object]) -> np.ndarray: ...
@overload
def isin(obj: pd.DataFrame, values: object) -> pd.DataFrame: ...
def isin(obj, values):
    """``obj.isin(values)``, computed by Arrow when ``obj`` holds Arrow strings.

    Same result as pandas: a boolean Series on ``obj``'s index (with its name) for a Series,
    a boolean array for an Index; a missing value in ``obj`` is in ``values`` only when
    ``values`` holds a missing value (``None``, ``NaN``, ``pd.NA``); wanted values that are not
    text match nothing. Anything else (a DataFrame, non-string data, wanted values Arrow
    cannot read as one text array) is answered by ``obj.isin`` itself, so pandas' own errors
    (for a scalar ``values``, say) are unchanged.

    >>> import pandas as pd
    >>> codes = pd.Series(["E01000001", None, "E01000003"], name="code")
    >>> isin(codes, {"E01000003", "W01000001"}).tolist()
    [False, False, True]
    >>> isin(codes, ["E01000001", None]).tolist()
    [True, True, False]
    >>> isin(pd.Index(["a", "b"]), pd.Series(["b"])).tolist()
    [False, True]
    >>> isin(pd.Series([1, 2]), [2]).tolist()
    [False, True]
    """
    # imported here, so that importing this module (every wing does, the CLI too) costs nothing
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    from pandas.api.extensions import ExtensionArray
    from pandas.api.types import is_list_like
    from pandas.arrays import ArrowStringArray

    if not isinstance(obj, (pd.Series, pd.Index)) or not isinstance(obj.array, ArrowStringArray):
        return obj.isin(values)
    if not isinstance(values, (pd.Series, pd.Index, ExtensionArray, np.ndarray, str, bytes, dict)) \
            and is_list_like(values):
        values = list(values)  # a set, generator, dict view: read once, here
    wanted = _text_array(values)
    if wanted is None:
        return obj.isin(values)
    hit = pc.is_in(pa.array(obj.array), value_set=wanted.cast(pa.large_string()))
    found = hit.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    if isinstance(obj, pd.Index):
        return found
    return pd.Series(found, index=obj.index, name=obj.name, copy=False)


def _text_array(values: object) -> pa.Array | None:
    """``values`` as one Arrow text array (missing values as nulls), or None to leave it to pandas."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from pandas.api.extensions import ExtensionArray
    from pandas.api.types import is_list_like
    from pandas.arrays import ArrowStringArray

    if isinstance(values, (pd.Series, pd.Index, ExtensionArray)) and isinstance(
            getattr(values, "array", values), ArrowStringArray):
        return pa.array(getattr(values, "array", values))
    if isinstance(values, (str, bytes, pd.DataFrame, dict)) or not is_list_like(values):
        return None
    as_objects = np.asarray(values, dtype=object) if len(values) else np.empty(0, dtype=object)
    if as_objects.ndim != 1:
        return None
    try:
        arr = pa.array(as_objects, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    return arr if arr.type in (pa.string(), pa.large_string(), pa.null()) else None
