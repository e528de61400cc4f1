"""kepler-model-pipeline: query, train and export Kepler power models."""

__version__ = "0.1.0"

# Model-format constants shared by train and export (workspace.md preamble).
MODEL_FORMAT_VERSION = "0.7.11"
MAJOR_VERSION = "0.7"
VERSION_FOLDER = "v0.7"
DEFAULT_PIPELINE_NAME = "std_v0.7.11"
