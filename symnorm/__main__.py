"""Command line: ``python -m symnorm demo [args]`` (or the ``symnorm`` console script)."""
from __future__ import annotations

import os
import runpy
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: symnorm demo [--data-dir DIR] [--epochs N] ...")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        here = os.path.dirname(os.path.abspath(__file__))
        script = os.path.join(os.path.dirname(here), "examples", "lenet_bn.py")
        if not os.path.exists(script):
            print("the demo ships with the source checkout (examples/lenet_bn.py)", file=sys.stderr)
            return 2
        sys.argv = [script] + rest
        runpy.run_path(script, run_name="__main__")
        return 0
    print("unknown command %r; try: symnorm demo" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
