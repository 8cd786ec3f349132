"""ganeval: evaluation and diagnostics for generative adversarial networks."""

__version__ = "0.1.0"

from .checkpoints import (
    Generator,
    LatentSpec,
    generator_from_module,
    generator_from_samples,
    list_checkpoints,
    load_discriminator,
    load_generator,
    load_run,
    save_generator,
)
from .compare import evaluate_many
from .data import Dataset, MixtureDataset, list_datasets, load_dataset
from .errors import GanevalError
from .evaluate import Evaluation, evaluate, list_metrics
from .paired import compare_models  # not `compare`: that name is the module of evaluate_many
from .sweep.store import export_results, load_results

__all__ = [
    "Dataset", "Evaluation", "GanevalError", "Generator", "LatentSpec", "MixtureDataset", "__version__",
    "compare_models", "evaluate", "evaluate_many", "generator_from_module", "generator_from_samples", "list_checkpoints", "list_datasets",
    "export_results", "list_metrics", "load_dataset", "load_results", "load_discriminator", "load_generator", "load_run", "save_generator",
]
