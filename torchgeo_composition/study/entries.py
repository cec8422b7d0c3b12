"""The pretraining sets of a study: a composition and how its quotas are filled.

A :class:`CompositionEntry` names a composition (a preset or a mapping) and,
optionally, a selection strategy inside each stratum's quota (see
:mod:`~torchgeo_composition.sampling.strategies`): ``entropy_top``,
``entropy_range``, ``entropy_uniform`` or ``entropy_matched`` to another set of
the same study (``selection_reference`` names that composition; its compose step
runs first). :func:`check_references` checks the references of a whole study and
:func:`composition_order` puts every reference before the sets matched to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..diversity import get_recipe
from ..sampling.strategies import STRATEGIES

__all__ = [
    "STRATEGY_OPTIONS",
    "CompositionEntry",
    "check_name",
    "check_references",
    "composition_order",
    "curation_recipe",
]

#: Keys of a composition's selection strategy. Each is left out of the study's
#: plain data and of its steps' configs at its default (``random`` / None), so
#: that studies written before them keep their hashes.
STRATEGY_OPTIONS: tuple[str, ...] = (
    "selection",
    "selection_reference",
    "entropy_range",
    "entropy_recipe",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(value: Any, what: str) -> str:
    """Return ``value`` if it is a valid folder and column name.

    Args:
        value: The name.
        what: What it names, for the error message.

    Returns:
        ``value``.

    Raises:
        ValueError: If it is not a string of letters, digits, ``_``, ``-`` or
            ``.`` starting with a letter or digit.
    """
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name; use letters, digits, '_', '-' "
            "or '.', starting with a letter or digit"
        )
    return value


@dataclass(frozen=True)
class CompositionEntry:
    """One pretraining set of the study.

    Attributes:
        name: Unique name (folder and table label).
        spec: Preset name or ``{stratum: weight}`` mapping.
        selection: How each stratum's quota is filled: ``random`` (default),
            ``entropy_top``, ``entropy_range``, ``entropy_uniform`` or
            ``entropy_matched``; the entropy strategies read the pool entropy
            index (the compose step builds it when it is missing).
        selection_reference: For ``entropy_matched``: the name of another
            composition of the study whose entropy distribution this set
            reproduces (its compose step runs first).
        entropy_range: For ``entropy_range``: ``[low, high]`` in nats, or pool
            quantiles such as ``"q0.75"``.
        entropy_recipe: Entropy recipe of the strategy (``default`` or
            ``olmoearth``); ``None`` = ``default``.
    """

    name: str
    spec: str | dict[str, float]
    selection: str = "random"
    selection_reference: str | None = None
    entropy_range: tuple[float | str, float | str] | None = None
    entropy_recipe: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "composition")
        where = f"composition {self.name!r}"
        if self.selection not in STRATEGIES:
            raise ValueError(
                f"{where}: selection {self.selection!r} is not valid; valid choices "
                f"are {list(STRATEGIES)}"
            )
        matched = self.selection == "entropy_matched"
        if matched != (self.selection_reference is not None):
            raise ValueError(
                f"{where}: selection_reference goes with selection "
                f"'entropy_matched' (the name of another composition of the "
                f"study); got selection={self.selection!r}, selection_reference="
                f"{self.selection_reference!r}"
            )
        if matched and self.selection_reference == self.name:
            raise ValueError(
                f"{where}: selection_reference names the composition itself; name "
                "another composition of the study"
            )
        ranged = self.selection == "entropy_range"
        if self.entropy_range is not None:
            object.__setattr__(self, "entropy_range", tuple(self.entropy_range))
        if ranged != (self.entropy_range is not None) or (
            ranged and len(self.entropy_range or ()) != 2
        ):
            raise ValueError(
                f"{where}: entropy_range [low, high] (nats or quantiles such as "
                "'q0.75') goes with selection 'entropy_range'; got selection="
                f"{self.selection!r}, entropy_range={self.entropy_range!r}"
            )
        if self.entropy_recipe is not None:
            try:
                get_recipe(self.entropy_recipe)
            except ValueError as err:
                raise ValueError(f"{where}: {err}") from None

    def strategy(self) -> dict[str, Any]:
        """Return the strategy options that differ from their defaults.

        Returns:
            ``selection``, ``selection_reference``, ``entropy_range`` (a list)
            and ``entropy_recipe``, each only when given (empty for a random
            set, so the hashes of studies written before them stay the same).
        """
        options: dict[str, Any] = {}
        if self.selection != "random":
            options["selection"] = self.selection
        for key in STRATEGY_OPTIONS[1:]:
            value = getattr(self, key)
            if value is not None:
                options[key] = list(value) if isinstance(value, tuple) else value
        return options

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as plain data (strategy options only when given).

        Returns:
            ``name``, ``spec`` and :meth:`strategy`.
        """
        spec = dict(self.spec) if isinstance(self.spec, dict) else self.spec
        return {"name": self.name, "spec": spec} | self.strategy()


def check_references(compositions: Sequence[CompositionEntry]) -> None:
    """Check the ``selection_reference`` of every composition of a study.

    Args:
        compositions: The study's compositions.

    Raises:
        ValueError: If a reference names no composition of the study, the
            references form a cycle, or the compositions select with different
            entropy recipes (their entropies would not be comparable).
    """
    names = [c.name for c in compositions]
    for entry in compositions:
        ref = entry.selection_reference
        if ref is not None and ref not in names:
            raise ValueError(
                f"composition {entry.name!r}: selection_reference {ref!r} is not a "
                f"composition of the study; valid choices are {names}"
            )
    composition_order(compositions)
    recipes = {curation_recipe([c]) for c in compositions if c.selection != "random"}
    if len(recipes) > 1:
        raise ValueError(
            f"the compositions select with entropy recipes {sorted(recipes)}; a "
            "study compares its sets' entropies, so give every composition the "
            "same entropy_recipe"
        )


def composition_order(
    compositions: Sequence[CompositionEntry],
) -> list[CompositionEntry]:
    """Return the compositions with every reference before the sets using it.

    The study order is kept otherwise (a study without references keeps it
    exactly).

    Args:
        compositions: The study's compositions.

    Returns:
        The compositions in a valid order for their compose steps.

    Raises:
        ValueError: If the references form a cycle.
    """
    by_name = {c.name: c for c in compositions}
    ordered: list[CompositionEntry] = []
    placed: set[str] = set()
    for entry in compositions:
        chain: list[str] = []
        current: CompositionEntry | None = entry
        while current is not None and current.name not in placed:
            if current.name in chain:
                cycle = " -> ".join([*chain, current.name])
                raise ValueError(
                    f"the compositions' selection_reference form a cycle ({cycle}); "
                    "a reference must be drawn without matching"
                )
            chain.append(current.name)
            ref = current.selection_reference
            current = by_name.get(ref) if ref is not None else None
        for name in reversed(chain):
            ordered.append(by_name[name])
            placed.add(name)
    return ordered


def curation_recipe(compositions: Sequence[CompositionEntry]) -> str:
    """Return the entropy recipe the compositions select with.

    Args:
        compositions: Compositions (checked by :func:`check_references`).

    Returns:
        The recipe name of the first composition with an entropy strategy,
        else ``default``.
    """
    for entry in compositions:
        if entry.selection != "random":
            return entry.entropy_recipe or "default"
    return "default"
