"""The exception hierarchy of symnorm, and the one formatter every message goes through.

Every error says *where* (op and node), *what* (the param, input slot or argument), what was
expected and what was given.  Each class also derives from the builtin exception a user
would catch for that kind of mistake (``ValueError``, ``TypeError``, ``RuntimeError``).
"""
from __future__ import annotations


class SymnormError(Exception):
    """Base class of every error symnorm raises on purpose."""


class ParamError(SymnormError, ValueError):
    """An operator parameter is unknown, missing, of the wrong type or out of range."""


class ShapeError(SymnormError, ValueError):
    """Shapes contradict each other, or an op cannot accept the shapes it is given."""


class ShapeTypeError(ShapeError, TypeError):
    """A shape that is not a sequence of ints (an array, a float dim, a string): MXNet
    raises TypeError there, so this is one too."""


class DTypeError(SymnormError, TypeError):
    """Data types contradict each other or are not supported."""


class GraphError(SymnormError, ValueError):
    """A graph is malformed: bad JSON, unknown op, dangling input, cycle, duplicate names."""


class BindError(SymnormError, ValueError):
    """Arrays given to bind/forward/copy_params_from do not fit the graph."""


class MissingParamError(BindError, RuntimeError):
    """A parameter the graph needs is not among the ones given (MXNet raises RuntimeError
    there, so this is one too)."""


class DataError(SymnormError, ValueError):
    """Array values cannot be used as given: a NaN class label (complex, object and string
    arrays are a DTypeError: their dtype is wrong, whatever the values)."""


class OpError(SymnormError, RuntimeError):
    """An operator failed while executing; the node is named and the cause is chained."""


class NotImplementedForSymbol(SymnormError, TypeError):
    """An NDArray-only operation asked of a Symbol (``bool(sym)``, ``sym += 1``,
    ``sym.asnumpy()``): MXNet's ``mx.base.NotImplementedForSymbol``, with its message."""

    def __init__(self, function, alias=None, *args):
        super().__init__()
        self.function = getattr(function, "__name__", str(function))
        self.alias = alias
        self.args = [str(type(a)) for a in args]

    def __str__(self):
        msg = "Function %s" % self.function
        if self.alias:
            msg += ' (namely operator "%s")' % self.alias
        if self.args:
            msg += " with arguments (%s)" % ", ".join(self.args)
        return msg + " is not implemented for Symbol and only available in NDArray."


def where(op_name: str | None, node_name: str | None) -> str:
    """``"BatchNorm 'bn0'"``: the standard prefix naming an op node (or a variable)."""
    if op_name is None:
        return "variable %r" % (node_name,)
    if node_name is None:
        return op_name
    return "%s %r" % (op_name, node_name)


def fmt_shape(shape) -> str:
    """Render a possibly partial shape: unknown dims as ``?``, unknown shape as ``unknown``."""
    if shape is None:
        return "unknown"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
