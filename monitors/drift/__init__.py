"""Goal-drift: the objective an agent stated against what its merge request did."""
