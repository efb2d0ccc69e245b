"""What a Symbol refuses because only an NDArray has a value: ``bool(sym)``, ``sym += 1``,
``sym.asnumpy()``...  Each raises ``NotImplementedForSymbol`` with MXNet 1.9.1's message
(``a += b`` on Symbols would silently rebind in Python; MXNet refuses it, so symnorm does)."""
from __future__ import annotations

from .errors import NotImplementedForSymbol

# method -> (MXNet's alias for the operator in the message, extra arguments it reports
# after the operand: MXNet's __iadd__ also names an int)
_REFUSED = {
    "__bool__": ("bool", ()), "__iadd__": ("+=", (1,)), "__isub__": ("-=", ()),
    "__imul__": ("*=", ()), "__itruediv__": ("/=", ()), "__idiv__": ("/=", ()),
    "wait_to_read": (None, ()), "asnumpy": (None, ()), "asscalar": (None, ()),
    "as_in_context": (None, ()), "detach": (None, ()), "backward": (None, ()),
    "copy": (None, ()),
}


def _refuse(name, alias, extra):
    def method(self, *args):
        raise NotImplementedForSymbol(getattr(self, name), alias, *(args + extra))
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "Not available on a Symbol (raises NotImplementedForSymbol), as in MXNet."
    return method


class NDArrayOnly:
    """Mixin of Symbol: NDArray's value methods, each raising ``NotImplementedForSymbol``."""
    __slots__ = ()


for _name, (_alias, _extra) in _REFUSED.items():
    setattr(NDArrayOnly, _name, _refuse(_name, _alias, _extra))
