"""GEO-Bench v1 metadata pickles, read without running code from them.

GEO-Bench v1.0 stores each sample's metadata (the label of classification tasks
and, per band, its band-info object, date, geotransform and CRS) as one pickle:
the HDF5 file attribute ``pickle`` holds ``str(pickle.dumps(...))``, the text of
a bytes literal (see :func:`~torchgeo_composition.datasets.geobench_meta.decode_pickle_attribute`). Each task folder also holds ``task_specs.pkl``. Unpickling runs
whatever the file names, so :class:`GeoBenchUnpickler` resolves exactly the types
GEO-Bench v1.0 writes and refuses every other one with an
:class:`UnsafePickleError` naming the file and the type; nothing is run.

Allowed: the GEO-Bench band-info, label-type and task classes (under the module
names GEO-Bench has written them with: ``geobench.*``, ``geobench.io.*``,
``ccb.io.*``), rebuilt as this module's stand-ins (:data:`GEOBENCH_CLASSES`)
without importing the ``geobench`` package; ``affine.Affine``;
``rasterio.crs.CRS`` (kept as :class:`PickledCRS`); ``datetime.date``,
``datetime.datetime``, ``datetime.time``, ``datetime.timedelta``,
``datetime.timezone``; ``collections.OrderedDict``; numpy arrays, scalars and
dtypes without Python objects in them (m-bigearthnet's multi-hot labels).
Plain containers, strings and numbers need no type.

``affine.Affine`` is rebuilt from its six coefficients: files written with
affine 2.x pickle it that way, and affine 3 would otherwise unpickle them into
an ``Affine`` without coefficients.
"""

from __future__ import annotations

import collections
import datetime
import io
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import affine
import numpy as np
from rasterio.crs import CRS

__all__ = [
    "GEOBENCH_CLASSES",
    "GEOBENCH_MODULES",
    "BandInfo",
    "CloudProbability",
    "ElevationBand",
    "GeoBenchObject",
    "GeoBenchUnpickler",
    "HyperSpectralBands",
    "LabelType",
    "Landsat8",
    "Mask",
    "MultiBand",
    "PickledCRS",
    "SegmentationClasses",
    "Sentinel1",
    "Sentinel2",
    "SpectralBand",
    "TaskSpecifications",
    "UnsafePickleError",
    "load_pickle",
]


class UnsafePickleError(ValueError):
    """A GEO-Bench metadata pickle names a type outside the allow-list.

    Attributes:
        path: The file holding the pickle.
        refused: The refused type (``module.name``).
    """

    def __init__(self, path: str, refused: str) -> None:
        """Initialize a new UnsafePickleError instance.

        Args:
            path: The file holding the pickle.
            refused: The refused type (``module.name``).
        """
        super().__init__(
            f"{path!r}: its metadata pickle holds {refused}, which is not one of the "
            f"types GEO-Bench v1.0 writes ({_ALLOWED_TEXT}); it was refused and "
            "nothing in it was run. Use a GEO-Bench v1 download from a trusted source"
        )
        self.path = path
        self.refused = refused


class GeoBenchObject:
    """Base of the stand-ins of GEO-Bench's classes: a pickle's state becomes attributes."""

    geobench_module: ClassVar[str] = "geobench.dataset"

    def __init__(self, **attributes: Any) -> None:
        """Initialize a new stand-in with the given attributes.

        Args:
            **attributes: The attributes GEO-Bench's class would hold.
        """
        vars(self).update(attributes)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"{type(self).__name__}({fields})"


class BandInfo(GeoBenchObject):
    """GEO-Bench's description of a band: name, alternative names, resolution."""

    name: str | None = None
    alt_names: tuple[str, ...] = ()
    spatial_resolution: float | None = None


class SpectralBand(BandInfo):
    """A band with a centre wavelength (micrometres)."""

    wavelength: float | None = None


class Sentinel1(SpectralBand):
    """A Sentinel-1 band."""


class Sentinel2(SpectralBand):
    """A Sentinel-2 band (named ``"NN - description"``)."""


class Landsat8(SpectralBand):
    """A Landsat 8 band."""


class Mask(BandInfo):
    """A mask band."""


class CloudProbability(Mask):
    """A cloud probability band."""


class ElevationBand(BandInfo):
    """An elevation band."""


class MultiBand(BandInfo):
    """Several bands in one dataset (height, width, n_bands)."""

    n_bands: int | None = None


class HyperSpectralBands(MultiBand):
    """Hyperspectral bands in one dataset."""

    wavelength_range: Any = None


class LabelType(GeoBenchObject):
    """Base of GEO-Bench's label types."""

    geobench_module: ClassVar[str] = "geobench.label"
    n_classes: int | None = None
    _class_names: list[str] | None = None


class Classification(LabelType):
    """Single-label classification."""


class SemanticSegmentation(Classification):
    """Semantic segmentation."""


class MultiLabelClassification(LabelType):
    """Multi-label classification."""


class SegmentationClasses(BandInfo, LabelType):
    """The label band of segmentation tasks (dataset ``label``)."""

    geobench_module: ClassVar[str] = "geobench.dataset"


class TaskSpecifications(GeoBenchObject):
    """The content of ``task_specs.pkl``."""

    geobench_module: ClassVar[str] = "geobench.task"
    dataset_name: str | None = None
    benchmark_name: str | None = None
    patch_size: Any = None
    n_time_steps: int | None = None
    bands_info: list[BandInfo] | None = None
    label_type: LabelType | None = None
    spatial_resolution: float | None = None


#: The GEO-Bench classes a pickle may name, by class name.
GEOBENCH_CLASSES: dict[str, type[GeoBenchObject]] = {
    cls.__name__: cls
    for cls in (
        BandInfo,
        SpectralBand,
        Sentinel1,
        Sentinel2,
        Landsat8,
        Mask,
        CloudProbability,
        ElevationBand,
        MultiBand,
        HyperSpectralBands,
        SegmentationClasses,
        LabelType,
        Classification,
        SemanticSegmentation,
        MultiLabelClassification,
        TaskSpecifications,
    )
}

#: Module names GEO-Bench v1.0 pickles name its classes under.
GEOBENCH_MODULES: frozenset[str] = frozenset(
    f"{package}{sub}"
    for package in ("geobench", "geobench.io", "ccb.io")
    for sub in ("", ".dataset", ".label", ".task")
) | {"ccb"}


class PickledCRS:
    """A pickled ``rasterio.crs.CRS``: its state (WKT, a dict or a string) kept as is.

    Attributes:
        state: What the pickle holds; :meth:`to_crs` turns it into a CRS.
    """

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        """Keep the pickled state.

        Args:
            state: The WKT text (rasterio) or a mapping / string it accepts.
        """
        self.state = state

    def to_crs(self) -> CRS:
        """Return the CRS.

        Returns:
            The ``rasterio.crs.CRS`` the state describes.
        """
        state = self.state
        if isinstance(state, dict) and "wkt" in state:
            state = state["wkt"]
        return CRS.from_user_input(state)


class _AffineFromCoefficients:
    """Rebuilds ``affine.Affine`` from the six coefficients of the pickle."""

    def __new__(cls, *coefficients: float) -> affine.Affine:  # type: ignore[misc]
        if len(coefficients) < 6:
            raise pickle.UnpicklingError(
                f"affine.Affine with {len(coefficients)} coefficients; expected 6"
            )
        return affine.Affine(*(float(c) for c in coefficients[:6]))


def _numpy_module(name: str) -> Any:
    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    return getattr(core, name)


def _plain_dtype(*args: Any) -> np.dtype[Any]:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("numpy.dtype with Python objects")
    return dtype


def _plain_array(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"ndarray subclass {subtype!r}")
    array: np.ndarray = _numpy_module("multiarray")._reconstruct(
        np.ndarray, shape, _plain_dtype(dtype)
    )
    return array


def _plain_scalar(dtype: Any, data: Any) -> Any:
    return _numpy_module("multiarray").scalar(_plain_dtype(dtype), data)


_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("affine", "Affine"): _AffineFromCoefficients,
    ("rasterio.crs", "CRS"): PickledCRS,
    ("datetime", "date"): datetime.date,
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy", "dtype"): _plain_dtype,
    ("numpy", "ndarray"): np.ndarray,
}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_core, "_reconstruct")] = _plain_array
    _ALLOWED[(_core, "scalar")] = _plain_scalar

_ALLOWED_TEXT = (
    "GEO-Bench band-info, label and task classes, affine.Affine, rasterio.crs.CRS, "
    "datetime types, OrderedDict, numpy arrays and scalars without objects, plain "
    "containers, strings and numbers"
)


class GeoBenchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the types GEO-Bench v1.0 writes."""

    def __init__(self, file: io.BytesIO, path: str) -> None:
        """Initialize a new GeoBenchUnpickler instance.

        Args:
            file: The pickle bytes.
            path: The file they come from, for messages.
        """
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a type the pickle names, or refuse it.

        Args:
            module: The module the pickle names.
            name: The type's name in that module.

        Returns:
            The allowed type or this module's stand-in for it.

        Raises:
            UnsafePickleError: For any other type.
        """
        if module in GEOBENCH_MODULES and name in GEOBENCH_CLASSES:
            return GEOBENCH_CLASSES[name]
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafePickleError(self.path, f"{module}.{name}")
        return allowed


def load_pickle(data: bytes, path: str) -> Any:
    """Unpickle GEO-Bench metadata with :class:`GeoBenchUnpickler`.

    Args:
        data: The pickle bytes.
        path: The file they come from, for messages.

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: If the pickle names a type outside the allow-list.
        ValueError: If the bytes are not a readable pickle (names the file).
    """
    try:
        return GeoBenchUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated, corrupt or refused numpy content
        raise ValueError(
            f"{path!r}: its metadata pickle cannot be read ({type(err).__name__}: "
            f"{err}); expected a GEO-Bench v1 metadata pickle"
        ) from err
