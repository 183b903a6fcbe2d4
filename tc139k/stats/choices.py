"""The choices of the statistics options, defined once for the options (config.py, light) and
the library that checks them (redundancy.py, plots.py)."""

BY_CHOICES = ("source", "length")
PLOT_FORMATS = ("png", "svg", "pdf")
