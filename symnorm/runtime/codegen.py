"""An optional transform of a step program into straight-line Python, for speed.

``compile_forward``/``compile_backward`` turn the ``ForwardStep``/``BackwardStep`` records
of ``symnorm.runtime.steps`` into one function each (values in local variables, every
per-node decision already made), the way PyTorch FX turns a graph into code.  They do
exactly what ``interpret.run_forward``/``run_backward`` do with the same records
(tests/test_steps.py compares them bit for bit on every registry example), less the loop.
Only the steady state runs compiled: the first pass of each mode, ``nan_check`` and a
monitor use the interpreter and its instrumentation.

Why it stays: on the executor-overhead benchmark (bench/executor_overhead.py, 200 tiny ops)
the interpreter took 1.31x the compiled forward's time and 1.47x its forward+backward
(0.82 vs 0.63 us/op and 1.42 vs 0.96 us/op, medians of 10 alternating processes, AMD
EPYC), i.e. the generated code saves 24% and 32% of it, above the 10% the issue asked
for keeping it (issue 18).

To step through the interpreter in a debugger instead, set ``SYMNORM_CODEGEN=0`` (or
``symnorm.runtime.codegen.ENABLED = False``).  The generated source is registered with
``linecache``, so tracebacks and debuggers show it; ``source(run)`` returns it.  An op's
failure is reported by ``steps.step_failure``, as in the interpreter: the failing step is
found from the traceback's line number, so the code carries no per-step bookkeeping.
"""
from __future__ import annotations

import itertools
import linecache
import os
import weakref

import numpy as np

from .steps import step_failure

ENABLED = os.environ.get("SYMNORM_CODEGEN", "1").strip().lower() not in ("0", "false", "no", "off")
_SERIAL = itertools.count()


def compile_forward(program, bound_slots, head_slots):
    """``run(values, saved, staged, train)``: ``run_forward`` of ``program`` unrolled.
    Reads the bound values (``bound_slots``) from ``values`` and writes the heads
    (``head_slots``) back into it; fills ``saved``/``staged`` as the interpreter does."""
    ns, lines = {}, []
    bound = sorted(set(bound_slots))
    body = ["v%d = values[%d]" % (s, s) for s in bound]
    for step in program:
        i = step.index
        ns["f%d" % i] = step.fn
        args = ["v%d" % s for s in step.ins] + ["train=train"]
        code = ["r = f%d(%s)" % (i, ", ".join(args))]
        if len(step.outs) == 1:
            code.append("v%d = r[0][0]" % step.outs[0])
        else:
            code.append("%s, = r[0]" % ", ".join("v%d" % s for s in step.outs))
        if step.saves:
            code.append("saved[%d] = r[2]" % i)
        if step.proposes:
            code += ["if train and r[1] is not None:", "    staged[%d] = r[1]" % i]
        code.extend("v%d = None" % s for s in step.frees)
        lines.append((step, code))
    tail = ["values[%d] = v%d" % (s, s) for s in sorted(set(head_slots)) if s not in bound]
    return _compile("values, saved, staged, train", body, lines, tail, ns, "forward")


def compile_backward(program, arg_slots, head_slots):
    """``run(saved, heads, buffers)``: ``run_backward`` of ``program`` unrolled (gradients
    in local variables, accumulation code only for slots with several contributions)."""
    ns = {"np_add": np.add}
    contributions = {}
    for step in program:
        for _, slot in step.gin:
            contributions[slot] = contributions.get(slot, 0) + 1
    heads = set(head_slots)
    for s in heads:
        contributions[s] = contributions.get(s, 0) + 1
    used = sorted(set(contributions) | {s for st in program for s in st.gout})
    body = ["g%d = heads.get(%d)" % (s, s) if s in heads else "g%d = None" % s for s in used]
    body += ["o%d = False" % s for s in used if contributions.get(s, 0) > 1]
    lines = []
    last = program[-1] if program else None
    for step in program:
        i, code = step.index, []
        ns["b%d" % i] = step.fn
        ogs = ", ".join("t%d" % j for j in range(len(step.gout)))
        for j, s in enumerate(step.gout):
            code += ["t%d = g%d" % (j, s), "g%d = None" % s]      # taken (and freed)
        cond = "True" if step.loss else \
            " or ".join("t%d is not None" % j for j in range(len(step.gout))) or "False"
        code.append("if %s:" % cond)
        call = "b%d(saved[%d], %s)" % (i, i, ogs)
        slots = [s for _, s in step.gin]
        direct = [(k, s) for k, s in step.gin if slots.count(s) == 1]
        if step is last and direct and step.writes_out:
            # the last step may write straight into final gradient buffers (_direct_out)
            outs = ["None"] * step.n_args
            code.append("    if buffers:")
            for k, s in direct:
                outs[k] = "u%d" % k
                code.append("        u%d = buffers.get(%d) if g%d is None else None" % (k, s, s))
            code += ["        if %s:" % " or ".join("u%d is not None" % k for k, _ in direct),
                     "            r = b%d(saved[%d], %s, out=(%s,))" % (i, i, ogs, ", ".join(outs)),
                     "        else:",
                     "            r = " + call,
                     "    else:",
                     "        r = " + call]
        else:
            code.append("    r = " + call)
        for k, s in step.gin:
            if contributions[s] == 1:
                code.append("    g%d = r[%d]" % (s, k))
                continue
            code += ["    x = r[%d]" % k,
                     "    if x is not None:",
                     "        if g%d is None:" % s,
                     "            g%d = x" % s,
                     "        elif o%d:" % s,
                     "            np_add(g%d, x, out=g%d)" % (s, s),
                     "        else:",
                     "            g%d = g%d + x" % (s, s),
                     "            o%d = True" % s]
        lines.append((step, code))
    result = ", ".join("%d: g%d" % (s, s) for s in sorted(set(arg_slots)) if s in contributions)
    tail = ["return {k: v for k, v in {%s}.items() if v is not None}" % result]
    return _compile("saved, heads, buffers", body, lines, tail, ns, "backward")


def _compile(signature, head, per_step, tail, ns, direction):
    """``def run(<signature>)``: ``head``, each step's lines, ``tail``, inside one ``try``
    whose handler reports an op's exception with ``step_failure`` for the step owning the
    failing line."""
    src = ["def run(%s):" % signature, "    try:"]
    src += ["        " + line for line in head]
    owner = {}                                   # source line number -> step
    for step, code in per_step:
        for line in code:
            src.append("        " + line)
            owner[len(src)] = step
    src += ["        " + line for line in tail] or ["        pass"]
    src += ["    except Exception as exc:",
            "        step = _owner.get(_failing_line(exc))",
            "        if step is None:",
            "            raise",
            "        raise _step_failure(%r, step, exc) from exc" % direction]
    text = "\n".join(src) + "\n"
    filename = "<symnorm %s program %d>" % (direction, next(_SERIAL))
    ns.update(_owner=owner, _failing_line=_failing_line, _step_failure=step_failure)
    exec(compile(text, filename, "exec"), ns)
    run = ns["run"]
    # the source stays readable for tracebacks and debuggers for as long as ``run`` lives
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    weakref.finalize(run, linecache.cache.pop, filename, None)
    run.source = text
    return run


def _failing_line(exc):
    """The line of the generated function at which ``exc`` left it."""
    tb = exc.__traceback__
    return tb.tb_lineno if tb is not None else None


def source(run) -> str:
    """The generated source of a compiled program."""
    return run.source


__all__ = ["ENABLED", "compile_forward", "compile_backward", "source"]
