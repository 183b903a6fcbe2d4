"""The `tc139k` command and `python -m tc139k`.

The command's script imports this small module rather than `tc139k.cli`: worker processes
are spawned, a spawned process re-imports its parent's main script, and this spares every
worker the import of the whole command line (click and every command's options)."""


def main():
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    main()
