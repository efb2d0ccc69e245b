"""The ``symnorm export-onnx`` and ``symnorm import-onnx`` commands (registered on the
main parser by ``add_commands``; kept here so ``__main__`` only lists them)."""
from __future__ import annotations

import os


def add_commands(sub) -> None:
    """Add ``export-onnx`` and ``import-onnx`` to the CLI's subcommand parser ``sub``."""
    p = sub.add_parser("export-onnx", help="write an MXNet/symnorm checkpoint as an ONNX model")
    p.add_argument("prefix")
    p.add_argument("epoch", type=int)
    p.add_argument("--shape", action="append", help="data input shape, NAME=D1,D2,... (repeatable)")
    p.add_argument("-o", "--output", default="model.onnx", help="the .onnx file (default model.onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    p.add_argument("--dynamic", action="store_true", help="make the batch axis symbolic")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("import-onnx", help="read an ONNX model and write an MXNet checkpoint")
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True, help="checkpoint PREFIX (writes PREFIX-symbol.json, "
                                                         "PREFIX-EPOCH.params)")
    p.add_argument("--epoch", type=int, default=0)
    p.set_defaults(fn=cmd_import)


def _run(fn):
    """Call ``fn``; symnorm's errors and a missing onnx package become CLI errors."""
    from symnorm.cli import CLIError
    from symnorm.errors import SymnormError
    try:
        return fn()
    except (SymnormError, ImportError) as exc:
        raise CLIError(str(exc)) from None


def cmd_export(args):
    """``symnorm export-onnx PREFIX EPOCH --shape data=1,3,224,224 -o model.onnx``"""
    from symnorm import model
    from symnorm.cli import CLIError, parse_shapes
    from symnorm.interop.onnx import export_model
    shapes = parse_shapes(args.shape)
    if not shapes:
        raise CLIError("export-onnx needs the data shape: --shape data=1,3,224,224")
    manifest = "%s-%04d.manifest" % (args.prefix, args.epoch)
    for path in ("%s-symbol.json" % args.prefix, "%s-%04d.params" % (args.prefix, args.epoch)):
        if not os.path.exists(path) and not os.path.exists(manifest):
            raise CLIError("no such checkpoint file: %s" % path)
    sym, arg, aux = _run(lambda: model.load_checkpoint(args.prefix, args.epoch))
    _run(lambda: export_model(sym, {**arg, **aux}, shapes, onnx_file_path=args.output,
                              dynamic=args.dynamic, opset_version=args.opset))
    print("wrote", args.output)


def cmd_import(args):
    """``symnorm import-onnx model.onnx -o PREFIX``"""
    from symnorm import model
    from symnorm.interop.onnx import import_model
    sym, arg, aux = _run(lambda: import_model(args.model))
    _run(lambda: model.save_checkpoint(args.output, args.epoch, sym, arg, aux))
    print("wrote %s-symbol.json and %s-%04d.params" % (args.output, args.output, args.epoch))
