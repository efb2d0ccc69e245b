"""Command line of symnorm.

    symnorm demo [--data-dir DIR] [--epochs N]          train LeNet-BN (examples/lenet_bn.py)
    symnorm summary GRAPH [--shape data=1,3,224,224]
    symnorm plot GRAPH [--shape ...] -o net.svg|.png|.pdf|.dot|.html [--show-weights]
    symnorm predict PREFIX EPOCH --input x.npy [--shape data=...] [-o y.npy]
    symnorm export-onnx PREFIX EPOCH --shape data=1,3,224,224 [-o model.onnx] [--opset N] [--dynamic]
    symnorm import-onnx model.onnx -o PREFIX [--epoch N]      (writes an MXNet checkpoint)

GRAPH is a symnorm or MXNet ``-symbol.json`` file or its checkpoint prefix; ops not in
the registry are drawn as grey placeholders.  Everyday mistakes print one line and exit 2.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys


from .cli import CLIError, parse_shapes  # noqa: F401  (one class, however main is run)


def _graph_path(path: str) -> str:
    """A ``-symbol.json`` path, or a checkpoint prefix (``model`` for ``model-symbol.json``)."""
    if os.path.isdir(path):
        raise CLIError("%s is a folder: give a -symbol.json file or a checkpoint prefix" % path)
    if not os.path.exists(path):
        if os.path.exists(path + "-symbol.json"):
            return path + "-symbol.json"
        raise CLIError("no such file: %s (give a -symbol.json file or a checkpoint prefix "
                       "such as model for model-symbol.json)" % path)
    return path


def _load(path):
    """The graph of a symbol file for looking at it: ops not in the registry become grey
    placeholders, named on one line on stderr."""
    from .core.errors import SymnormError
    from .viz.opaque import load_for_view, unknown_line
    path = _graph_path(path)
    if path.endswith(".params") or path.endswith(".states"):
        raise CLIError("%s holds parameters, not a graph: give the -symbol.json file (or the "
                       "checkpoint prefix)" % path)
    try:
        sym, unknown = load_for_view(path)
    except SymnormError as exc:
        raise CLIError(str(exc)) from None
    if unknown:
        print("symnorm: note: %s" % unknown_line(unknown), file=sys.stderr)
    return sym


def _output(path: str) -> str:
    """Check that the folder of an output file exists before doing any work."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError("the output folder %s does not exist: create it first (mkdir -p %s)"
                       % (folder, folder))
    return path


def cmd_summary(args):
    """``symnorm summary``: print the layer table of a symbol file."""
    from . import viz
    from .core.errors import SymnormError
    sym = _load(args.graph)
    shapes = parse_shapes(args.shape) or None
    if shapes is None:
        inputs = [n for n in sym.list_arguments() if n in ("data",)] or sym.list_arguments()[:1]
        print("symnorm: note: no --shape given, so no output shapes or parameter counts; add "
              "e.g. --shape %s=1,3,224,224" % (inputs[0] if inputs else "data"), file=sys.stderr)
    try:
        viz.print_summary(sym, shape=shapes)
    except SymnormError as exc:
        raise CLIError("%s (check --shape)" % exc) from None


def cmd_plot(args):
    """``symnorm plot``: draw a symbol file as svg/png/pdf/dot/html."""
    from . import viz
    out = args.output
    fmt = os.path.splitext(out)[1].lstrip(".").lower()
    if fmt not in ("html", "svg", "png", "pdf", "dot", "gv"):
        raise CLIError("unsupported output %r: use .svg, .png, .pdf, .dot or .html" % out)
    _output(out)
    sym = _load(args.graph)
    shapes = parse_shapes(args.shape) or None
    if fmt == "html":
        viz.to_html(sym, shape=shapes, path=out, title=os.path.basename(args.graph),
                    hide_weights=not args.show_weights)
    elif fmt in ("svg", "png", "pdf", "dot", "gv"):
        import warnings
        with warnings.catch_warnings():     # unknown ops: _load already said so
            warnings.simplefilter("ignore")
            graph = viz.plot_network(sym, title="plot", shape=shapes, hide_weights=not args.show_weights)
        if fmt in ("dot", "gv"):
            graph.save(out)
        else:
            try:
                data = graph.pipe(fmt)
            except RuntimeError as exc:
                raise CLIError(str(exc)) from None
            from .core.fileio import atomic_write
            atomic_write(out, data)
    else:
        raise CLIError("unsupported output %r: use .svg, .png, .pdf, .dot or .html" % out)
    print("wrote", out)


def cmd_predict(args):
    """``symnorm predict``: run a checkpoint on a .npy input."""
    import numpy as np
    from .core.errors import SymnormError
    from .interop.model import Predictor
    if args.prefix.endswith("-symbol.json"):       # the graph file given for its prefix
        args.prefix = args.prefix[:-len("-symbol.json")]
    if args.output:
        _output(args.output)
    # with a manifest the loader finds (or rolls forward) the set and names what is missing
    manifest = "%s-%04d.manifest" % (args.prefix, args.epoch)
    for path in ("%s-symbol.json" % args.prefix, "%s-%04d.params" % (args.prefix, args.epoch)):
        if not os.path.exists(path) and not os.path.exists(manifest):
            raise CLIError("no such checkpoint file: %s" % path)
    if not os.path.exists(args.input):
        raise CLIError("no such input file: %s" % args.input)
    try:
        x = np.load(args.input)
    except (ValueError, OSError) as exc:
        raise CLIError("cannot read %s as a .npy array: %s" % (args.input, exc)) from None
    shapes = parse_shapes(args.shape) or {args.data_name: x.shape}
    name = next(iter(shapes))
    if tuple(shapes[name]) != x.shape:
        raise CLIError("the input has shape %s but --shape says %s=%s"
                       % (x.shape, name, ",".join(map(str, shapes[name]))))
    try:
        pred = Predictor.from_checkpoint(args.prefix, args.epoch, shapes)
        outs = pred.predict(**{name: x})
    except SymnormError as exc:
        raise CLIError(str(exc)) from None
    if args.output:
        import io
        from .core.fileio import atomic_write
        path = args.output if args.output.endswith(".npy") else args.output + ".npy"  # as np.save
        buf = io.BytesIO()
        np.save(buf, outs[0])
        atomic_write(path, buf.getvalue())
        print("wrote", path, outs[0].shape)
    else:
        np.set_printoptions(precision=5, suppress=True)
        print(outs[0])
        if outs[0].ndim == 2:
            print("argmax:", outs[0].argmax(axis=1))


def cmd_demo(rest):
    """``symnorm demo``: run examples/lenet_bn.py with the given arguments."""
    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.join(os.path.dirname(here), "examples", "lenet_bn.py")
    if not os.path.exists(script):
        raise CLIError("the demo ships with the source checkout (examples/lenet_bn.py)")
    sys.argv = [script] + list(rest)
    runpy.run_path(script, run_name="__main__")


def main(argv=None) -> int:
    """Entry point of the ``symnorm`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        try:
            cmd_demo(argv[1:])
        except CLIError as exc:
            print("symnorm: error: %s" % exc, file=sys.stderr)
            return 2
        return 0
    ap = argparse.ArgumentParser(prog="symnorm", description="symnorm command line")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="train LeNet-BN (see examples/lenet_bn.py --help)")
    p = sub.add_parser("summary", help="print the layer table of a symbol JSON file")
    p.add_argument("graph")
    p.add_argument("--shape", action="append", help="input shape, NAME=D1,D2,... (repeatable)")
    p.set_defaults(fn=cmd_summary)
    p = sub.add_parser("plot", help="draw a symbol JSON file")
    p.add_argument("graph")
    p.add_argument("--shape", action="append", help="input shape, NAME=D1,D2,... (repeatable)")
    p.add_argument("-o", "--output", required=True, help="net.svg, .png, .pdf, .dot or .html")
    p.add_argument("--show-weights", action="store_true", help="draw parameters and aux states")
    p.set_defaults(fn=cmd_plot)
    p = sub.add_parser("predict", help="run inference on an MXNet/symnorm checkpoint")
    p.add_argument("prefix")
    p.add_argument("epoch", type=int)
    p.add_argument("--input", required=True, help="a .npy array")
    p.add_argument("--shape", action="append", help="input shape, NAME=D1,D2,... (default: the array's)")
    p.add_argument("--data-name", default="data")
    p.add_argument("-o", "--output", help="write the first output as .npy")
    p.set_defaults(fn=cmd_predict)
    from .interop.onnx.cli import add_commands as add_onnx_commands    # export-onnx, import-onnx
    add_onnx_commands(sub)
    args = ap.parse_args(argv)
    from .core.errors import SymnormError
    try:
        args.fn(args)
    except CLIError as exc:
        print("symnorm: error: %s" % exc, file=sys.stderr)
        return 2
    except (SymnormError, OSError) as exc:     # everyday faults: one line, no traceback
        print("symnorm: error: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
