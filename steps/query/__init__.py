"""The `kepler-model query` step: a time window of Kepler metrics from Prometheus into the workspace."""
