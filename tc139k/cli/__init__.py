"""The command line: one module per command, over the library packages.

Commands parse options, call the library and print; they alone choose exit codes. This
package may import every other package of tc139k; none may import it.
"""

from .app import main

__all__ = ["main"]
