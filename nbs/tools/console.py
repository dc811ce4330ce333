"""Run one of linceiver's console scripts without installing the package (a bare GPU machine, a worktree pinned to an
old commit): `python nbs/tools/console.py linceiver_experiment k_sweep --scale quick`. The package is whatever
`import linceiver` finds (PYTHONPATH). fastcore's `call_parse` reads the flags only when called from a script's
`__main__`, and the guard keeps the workers an experiment spawns from running the command again."""
import sys
from linceiver import cli

if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in cli.__all__:
        sys.exit(f"usage: python {sys.argv[0]} COMMAND [FLAGS]; COMMAND is one of {', '.join(cli.__all__)}")
    sys.exit(getattr(cli, sys.argv.pop(1))())
