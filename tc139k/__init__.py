"""tc139k: dataset toolkit for TimeChat-Online-139K."""

__version__ = "0.1.0"
