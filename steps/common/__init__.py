"""What the three steps share: workspace paths, configuration, errors, domain tables."""
