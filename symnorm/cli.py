"""What every command-line piece shares: the user-facing error and the ``--shape`` parser.

They live here, not in ``__main__``, because ``python -m symnorm`` runs ``__main__.py`` as the
module ``__main__``: a subcommand importing ``symnorm.__main__`` would get a second copy of
the file and a second ``CLIError`` class that ``main()`` does not catch.
"""
from __future__ import annotations


class CLIError(Exception):
    """A user-facing command-line error: printed, exit status 2."""
    pass


def parse_shapes(items) -> dict:
    """``["data=1,3,224,224", ...]`` -> ``{"data": (1, 3, 224, 224)}``."""
    shapes = {}
    for item in items or []:
        name, sep, dims = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
            if not shapes[name]:
                raise ValueError
        except ValueError:
            raise CLIError("malformed --shape %r: expected NAME=D1,D2,... (e.g. data=1,3,224,224)"
                           % item) from None
    return shapes
