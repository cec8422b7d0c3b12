"""Composition specifications: which share of a pretraining set comes from where."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any, Literal, Protocol

from ..geography import CONTINENTS, INHABITED, normalize_continent

__all__ = [
    "PRESETS",
    "Composition",
    "CompositionKind",
    "StrataNames",
    "list_presets",
    "register_preset",
]


class StrataNames(Protocol):
    """What a composition needs of its strata: their names.

    A :class:`~torchgeo_composition.geography.RegionLayer` is one, and so are the
    strata of a metadata column
    (:class:`~torchgeo_composition.sampling.strata.ColumnStrata`).
    """

    @property
    def is_continents(self) -> bool:
        """Whether the strata are the continents (aliases accepted)."""
        ...

    def normalize(self, name: str) -> str:
        """Return the stratum a name refers to (raise ValueError if none)."""
        ...


#: Presets that are not a single continent.
SPECIAL_PRESETS: tuple[str, ...] = ("global", "proportional", "uniform")

#: Every preset name: the six inhabited continents plus ``global``, ``proportional``
#: and ``uniform``.
PRESETS: tuple[str, ...] = (*INHABITED, *SPECIAL_PRESETS)

#: Named compositions with fixed weights, ``name -> {stratum: weight}``; filled by
#: :func:`register_preset` (one line adds a preset usable everywhere).
_NAMED_PRESETS: dict[str, dict[str, float]] = {}


def register_preset(name: str, weights: Mapping[str, float]) -> None:
    """Register a named composition with fixed weights.

    After ``register_preset("tropics", {"africa": 2, "south_america": 1})`` the name
    works wherever a composition is accepted: ``Composition("tropics")``, ``compose
    --composition tropics``, the datamodules and the study.

    Args:
        name: Preset name (lower case, ``_`` for spaces); must not be a continent,
            ``global``, ``proportional``, ``uniform`` or an existing preset.
        weights: Positive weight per stratum (normalised to sum to 1).

    Raises:
        ValueError: If the name is taken or a weight is invalid.
    """
    key = name.strip().lower().replace("-", "_")
    if key in PRESETS or key in _NAMED_PRESETS:
        raise ValueError(
            f"composition preset {name!r} already exists; taken names are "
            f"{list_presets()}"
        )
    checked = {str(k): _check_weight(str(k), v) for k, v in weights.items()}
    total = sum(checked.values())
    if not checked or total <= 0:
        raise ValueError(
            f"weights of preset {name!r} must hold a positive weight, got "
            f"{dict(weights)!r}"
        )
    _NAMED_PRESETS[key] = {k: checked[k] / total for k in sorted(checked)}


def list_presets() -> list[str]:
    """Return every composition preset name, built-in and registered.

    Returns:
        The six inhabited continents, ``global``, ``proportional``, ``uniform``,
        then the registered presets in order of name.
    """
    return [*PRESETS, *sorted(_NAMED_PRESETS)]


CompositionKind = Literal[
    "continent", "region", "global", "proportional", "uniform", "mapping"
]


def _check_weight(key: str, value: object) -> float:
    """Validate one weight of a mapping.

    Args:
        key: stratum the weight belongs to.
        value: the weight.

    Returns:
        The weight as a float.

    Raises:
        ValueError: if the weight is not a finite, non-negative real number.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(
            f"composition weight for {key!r} must be a number, got {value!r}"
        )
    weight = float(value)
    if not math.isfinite(weight):
        raise ValueError(
            f"composition weight for {key!r} must be finite, got {value!r}; "
            "valid weights are finite numbers >= 0"
        )
    if weight < 0:
        raise ValueError(
            f"composition weight for {key!r} must be >= 0, got {value!r}; "
            "valid weights are finite numbers >= 0"
        )
    return weight


def _normalize_keys(
    spec: Mapping[str, Any], layer: StrataNames | None
) -> dict[str, float]:
    """Normalise the keys of a ``{stratum: weight}`` mapping.

    With a region layer, keys are normalised by :meth:`RegionLayer.normalize`.
    Without one, keys that all name continents (aliases accepted) become continent
    slugs; keys of which none names a continent are kept as region-layer values;
    a mix of both is an error, since it is almost always a misspelt continent.

    Args:
        spec: the mapping given by the user.
        layer: region layer whose values the keys must name, or None.

    Returns:
        Mapping from normalised stratum to raw weight.

    Raises:
        ValueError: on unknown or duplicated strata.
    """
    keys = [str(key).strip() for key in spec]
    if layer is not None:
        normalized = [layer.normalize(key) for key in keys]
    else:
        resolved: list[str | None] = []
        for key in keys:
            try:
                resolved.append(normalize_continent(key))
            except ValueError:
                resolved.append(None)
        unknown = [k for k, r in zip(keys, resolved, strict=True) if r is None]
        if len(unknown) == len(keys):
            normalized = keys
        elif unknown:
            raise ValueError(
                f"composition has unknown continent(s) {unknown!r}; valid continents "
                f"are {list(CONTINENTS)} (aliases accepted). For strata of another "
                "region layer, use only that layer's values."
            )
        else:
            normalized = [r for r in resolved if r is not None]
    weights: dict[str, float] = {}
    for raw, key, value in zip(spec, normalized, spec.values(), strict=True):
        if key in weights:
            raise ValueError(
                f"composition names stratum {key!r} twice (as {raw!r} and another "
                "alias); give each stratum once"
            )
        weights[key] = _check_weight(str(raw), value)
    return weights


class Composition:
    """A composition: the share of each stratum in a pretraining set.

    Presets are the six inhabited continent slugs (``africa``, ``asia``, ``europe``,
    ``north_america``, ``oceania``, ``south_america``; aliases such as ``"Europe"``,
    ``"EU"`` or ``"north america"`` are accepted case-insensitively), ``global``
    (equal shares of those six; Antarctica excluded), ``proportional`` (the pool's
    own shares) and ``uniform`` (uniform at random over the pool, without strata).
    A mapping ``{stratum: weight}`` over continents or over the values of any
    region layer gives custom shares; weights are normalised to sum to one. With
    a ``layer`` other than the continents, a string naming one of its values
    selects that region only (kind ``"region"``).
    """

    def __init__(
        self,
        spec: str | Mapping[str, float] | Composition,
        layer: StrataNames | None = None,
    ) -> None:
        """Initialize a new Composition instance.

        Args:
            spec: preset name, mapping ``{stratum: weight}``, or another Composition.
            layer: region layer (or metadata column strata) whose values the
                mapping keys name (aliases resolved with its ``normalize``); None
                for continents or plain strata.

        Raises:
            ValueError: for an unknown preset or continent, a negative, non-finite or
                non-numeric weight, weights summing to 0, or an empty mapping.
        """
        self._weights: dict[str, float] | None
        if isinstance(spec, Composition):
            self.kind: CompositionKind = spec.kind
            self.name: str = spec.name
            self._weights = None if spec._weights is None else dict(spec._weights)
            return
        if isinstance(spec, str):
            self._init_preset(spec, layer)
            return
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"composition must be a preset name or a mapping {{stratum: weight}}, "
                f"got {spec!r}; presets: {list_presets()}"
            )
        if not spec:
            raise ValueError("composition mapping is empty; give {stratum: weight}")
        raw = _normalize_keys(spec, layer)
        total = math.fsum(raw.values())
        if total <= 0:
            raise ValueError(
                f"composition weights sum to 0 ({raw!r}); at least one weight must "
                "be > 0"
            )
        self.kind = "mapping"
        self.name = "custom"
        self._weights = {key: raw[key] / total for key in sorted(raw)}

    def _init_preset(self, spec: str, layer: StrataNames | None) -> None:
        """Set up a preset composition from its name (or a stratum name)."""
        key = spec.strip().lower().replace("-", "_")
        if layer is not None and not layer.is_continents and key not in SPECIAL_PRESETS:
            value = layer.normalize(spec.strip())
            self.kind = "region"
            self.name = value
            self._weights = {value: 1.0}
            return
        if key in SPECIAL_PRESETS:
            self.kind = key  # type: ignore[assignment]
            self.name = key
            if key == "global":
                self._weights = {s: 1.0 / len(INHABITED) for s in sorted(INHABITED)}
            else:
                self._weights = None
            return
        if key in _NAMED_PRESETS:
            self.kind = "mapping"
            self.name = key
            self._weights = dict(_NAMED_PRESETS[key])
            return
        try:
            slug = normalize_continent(spec)
        except ValueError:
            slug = None
        if slug is None or slug not in INHABITED:
            raise ValueError(
                f"unknown composition {spec!r}; valid presets are {list_presets()} "
                "(continent aliases accepted), or give a mapping {stratum: weight}"
                + (" such as {'antarctica': 1.0}" if slug is not None else "")
            )
        self.kind = "continent"
        self.name = slug
        self._weights = {slug: 1.0}

    @property
    def is_stratified(self) -> bool:
        """Whether selection draws per stratum (False only for ``uniform``)."""
        return self.kind != "uniform"

    @property
    def strata(self) -> tuple[str, ...] | None:
        """Strata named by the composition, or None when they come from the pool."""
        return None if self._weights is None else tuple(self._weights)

    def weights(self, pool_counts: Mapping[str, int] | None = None) -> dict[str, float]:
        """Normalised weight of each stratum.

        Args:
            pool_counts: number of pool samples per stratum; needed for
                ``proportional`` and ``uniform`` (whose expected shares are the
                pool's shares).

        Returns:
            Mapping stratum -> weight (sorted by stratum; sums to 1).

        Raises:
            ValueError: if pool counts are needed but missing or all zero.
        """
        if self._weights is not None:
            return dict(self._weights)
        if pool_counts is None:
            raise ValueError(
                f"composition {self.name!r} takes its shares from the pool; "
                "pass pool_counts"
            )
        counts = {str(k): int(v) for k, v in pool_counts.items() if int(v) > 0}
        total = sum(counts.values())
        if total == 0:
            raise ValueError(
                f"composition {self.name!r} needs a non-empty pool, got pool_counts="
                f"{dict(pool_counts)!r}"
            )
        return {key: counts[key] / total for key in sorted(counts)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (name, kind and weights; None if pool-derived)."""
        weights = (
            None
            if self._weights is None
            else {k: round(v, 12) for k, v in self._weights.items()}
        )
        return {"name": self.name, "kind": self.kind, "weights": weights}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Composition:
        """Rebuild a composition from :meth:`to_dict` output (e.g. a summary).

        Args:
            data: mapping with ``name``, ``kind`` and ``weights``.

        Returns:
            The composition.

        Raises:
            ValueError: if ``data`` does not describe a composition.
        """
        kind = data.get("kind")
        if kind == "mapping":
            weights = data.get("weights")
            if not isinstance(weights, Mapping):
                raise ValueError(
                    f"composition of kind 'mapping' needs weights: {data!r}"
                )
            return cls(weights)
        name = data.get("name")
        if not isinstance(name, str):
            raise ValueError(f"not a composition description: {data!r}")
        if kind == "region":
            region = cls.__new__(cls)
            region.kind, region.name, region._weights = "region", name, {name: 1.0}
            return region
        return cls(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Composition):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(
            (self.name, self.kind, tuple((self.to_dict()["weights"] or {}).items()))
        )

    def __repr__(self) -> str:
        if self.kind == "mapping":
            return f"Composition({self._weights!r})"
        return f"Composition({self.name!r})"
