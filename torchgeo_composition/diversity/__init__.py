"""Diversity of pretraining sets: measures, reports and their correlation with results.

Spectral entropy (:func:`spectral_entropy`) is the per-sample measure whose dataset
mean predicted downstream performance in the "Pretrain Where?" study; categorical
entropy (:func:`categorical_entropy`) measures continent, biome or region shares.
Measures are torchmetrics metrics (:class:`DiversityMeasure`, e.g.
:class:`SpectralEntropy`) registered by name (:func:`register_measure`,
:func:`create_measure`); :func:`diversity_report` measures a whole set with them and
writes the report; :func:`correlate` and :func:`correlation_table` test diversity
against downstream results.
"""

from .correlation import (
    METHODS,
    CorrelationResult,
    correlate,
    correlation_table,
)
from .correlation_report import (
    CorrelationReport,
    correlate_results,
    correlation_markdown,
    write_correlation,
)
from .entropy import UNIT_RANGE, categorical_entropy, spectral_entropy
from .measure import (
    MEASURES,
    DiversityMeasure,
    create_measure,
    list_measures,
    register_measure,
)
from .measurements import EntropyMeasurements, Measurements, measure
from .plots import plot_band_entropy, plot_correlation, plot_stratum_distributions
from .recipes import DEFAULT_RECIPE, RECIPES, EntropyRecipe, get_recipe
from .report import (
    QUANTILES,
    PredictSource,
    composition_recipe,
    diversity_report,
    summarize,
    to_markdown,
    write_report,
)
from .spectral import SpectralEntropy

__all__ = [
    "DEFAULT_RECIPE",
    "MEASURES",
    "METHODS",
    "QUANTILES",
    "RECIPES",
    "UNIT_RANGE",
    "CorrelationReport",
    "CorrelationResult",
    "DiversityMeasure",
    "EntropyMeasurements",
    "EntropyRecipe",
    "Measurements",
    "PredictSource",
    "SpectralEntropy",
    "categorical_entropy",
    "composition_recipe",
    "correlate",
    "correlate_results",
    "correlation_markdown",
    "correlation_table",
    "create_measure",
    "diversity_report",
    "get_recipe",
    "list_measures",
    "measure",
    "plot_band_entropy",
    "plot_correlation",
    "plot_stratum_distributions",
    "register_measure",
    "spectral_entropy",
    "summarize",
    "to_markdown",
    "write_correlation",
    "write_report",
]
