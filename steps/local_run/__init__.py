"""`kepler-model run`: the three steps in order on one machine, with the pipeline's parameters."""
