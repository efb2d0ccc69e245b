"""Optimizers (``mx.optimizer``): SGD, NAG, Adam, AdamW, RMSProp, AdaGrad, AdaDelta,
Adamax, Nadam, Signum and Ftrl, with per-parameter ``lr_mult``/``wd_mult`` and
schedules.  Updates are in place and vectorized.

Multipliers, as MXNet 1.x sets them: a variable's ``__lr_mult__``/``__wd_mult__``
attributes, then ``set_lr_mult``/``set_wd_mult``.  MXNet 1.9.1's *default* weight decay
applies only to names ending in ``_weight`` or ``_gamma``; every other parameter (biases,
beta) gets ``wd_mult = 0`` (checked against MXNet).  A BatchNorm gamma under ``fix_gamma``
is never updated by ``Module`` (it binds it with ``grad_req='null'``), so it stays 1.

Every update starts from ``g = rescale_grad · grad``, clipped to ``±clip_gradient`` when set.
Weight decay is added to the gradient before the clip in Adam, RMSProp, Adamax and Nadam,
after it in SGD, NAG and Signum, and enters the step itself, outside the clipped gradient,
in AdamW (decoupled), AdaGrad, AdaDelta and Ftrl, as MXNet 1.9.1's kernels do (SGD, NAG,
Adam and RMSProp checked against MXNet with both set); each class's docstring has its
formula.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..core.errors import ParamError

_REGISTRY: dict = {}


def register(cls):
    """Class decorator: make an optimizer creatable by its lower-cased name."""
    _REGISTRY[cls.__name__.lower()] = cls
    return cls


class Optimizer:
    """Base optimizer: learning rate and schedule, weight decay, multipliers, gradient preprocessing."""
    def __init__(self, learning_rate=None, wd=0.0, rescale_grad=1.0, clip_gradient=None,
                 lr_scheduler=None, param_idx2name=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        # MXNet 1.9.1: without ``learning_rate`` a schedule's own ``base_lr`` is the rate
        # (0.01 when there is no schedule); a given ``learning_rate`` overrides the
        # schedule's base_lr, with a warning when they differ
        if learning_rate is None:
            learning_rate = lr_scheduler.base_lr if lr_scheduler is not None else 0.01
        elif lr_scheduler is not None and lr_scheduler.base_lr != learning_rate:
            warnings.warn("learning rate from ``lr_scheduler`` (%g) has been overwritten by "
                          "``learning_rate`` in optimizer (%g)" % (lr_scheduler.base_lr, learning_rate),
                          stacklevel=3)
            lr_scheduler.base_lr = learning_rate
        self.lr, self.wd = learning_rate, wd
        self.rescale_grad, self.clip_gradient = rescale_grad, clip_gradient
        self.lr_scheduler = lr_scheduler
        self.num_update = begin_num_update
        self._index_update_count: dict = {}
        self.idx2name = dict(param_idx2name or {})
        self.lr_mult: dict = {}
        self.wd_mult: dict = {}
        # what the user gave set_lr_mult/set_wd_mult: kept, so that filling in the
        # parameter names later (Module.init_optimizer) re-derives the defaults around them
        self._user_lr_mult: dict = {}
        self._user_wd_mult: dict = {}
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else None
        self.multi_precision = multi_precision
        self.set_lr_mult({})
        self.set_wd_mult({})

    @property
    def learning_rate(self):
        return self.lr_scheduler(self.num_update) if self.lr_scheduler else self.lr

    def set_learning_rate(self, lr):
        """Set the learning rate (not allowed while a scheduler drives it)."""
        if self.lr_scheduler is not None:
            raise UserWarning("set_learning_rate has no effect while an lr_scheduler is used")
        self.lr = lr

    def _from_attrs(self, key):
        out = {}
        if self.sym_info:
            attrs, names = self.sym_info
            for n in names:
                if key in attrs.get(n, {}):
                    out[n] = float(attrs[n][key])
        return out

    def set_lr_mult(self, args_lr_mult):
        """Per-parameter learning-rate multipliers (names or indices), over the symbol's
        ``__lr_mult__`` attributes.  Replaces the multipliers given by an earlier call."""
        self._user_lr_mult = dict(args_lr_mult)
        self.lr_mult = self._from_attrs("__lr_mult__")
        self.lr_mult.update(self._user_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Per-parameter weight-decay multipliers, over the default (see the module
        docstring) and the symbol's ``__wd_mult__`` attributes.  Replaces the multipliers
        given by an earlier call."""
        self._user_wd_mult = dict(args_wd_mult)
        self.wd_mult = {}
        for n in self.idx2name.values():
            if not (n.endswith("_weight") or n.endswith("_gamma")):
                self.wd_mult[n] = 0.0
        self.wd_mult.update(self._from_attrs("__wd_mult__"))
        self.wd_mult.update(self._user_wd_mult)

    def bind_names(self, idx2name: dict, sym=None):
        """Name the parameters (index -> name) when the optimizer was made before its
        module: the default multipliers are derived for those names, and what the user
        set with ``set_lr_mult``/``set_wd_mult`` is kept on top of them."""
        self.idx2name = dict(idx2name)
        if sym is not None:
            self.sym_info = (sym.attr_dict(), sym.list_arguments())
        self.set_lr_mult(self._user_lr_mult)
        self.set_wd_mult(self._user_wd_mult)

    def _mult(self, table, index):
        if index in table:
            return table[index]
        return table.get(self.idx2name.get(index, index), 1.0)

    def _get_lr(self, index):
        return self.learning_rate * self._mult(self.lr_mult, index)

    def _get_wd(self, index):
        return self.wd * self._mult(self.wd_mult, index)

    def _update_count(self, index):
        c = self._index_update_count.get(index, 0) + 1
        self._index_update_count[index] = c
        self.num_update = max(c, self.num_update)
        return c

    # MXNet's Adam and RMSProp kernels clip rescale·grad + wd·w; SGD and NAG add wd·w to
    # the clipped gradient
    clip_after_wd = False

    def _clip(self, g):
        if self.clip_gradient is not None and self.clip_gradient > 0:
            np.clip(g, -self.clip_gradient, self.clip_gradient, out=g)
        return g

    def _step(self, index, weight, grad, coupled_wd=True):
        """Count the update; return (t, lr, g) with g = clip(rescale·grad) + wd·w, or
        clip(rescale·grad + wd·w) with ``clip_after_wd`` (no wd term: ``coupled_wd=False``)."""
        t = self._update_count(index)
        g = grad * grad.dtype.type(self.rescale_grad)
        wd = self._get_wd(index) if coupled_wd else 0.0
        if not self.clip_after_wd:
            self._clip(g)
        if wd:
            g += wd * weight
        if self.clip_after_wd:
            self._clip(g)
        return t, self._get_lr(index), g

    def create_state(self, index, weight):
        return None

    def update(self, index, weight, grad, state):
        raise NotImplementedError

    # where the float32 master copy sits in a multi-precision state: MXNet's SGD and NAG
    # put it last, ``(state, master)``; the other optimizers first, ``(master, state)``
    _master_last = False

    def create_state_multi_precision(self, index, weight):
        """``create_state``; for a float16 weight under ``multi_precision`` also a float32
        master copy, which the updates run on (MXNet's mixed-precision training)."""
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            inner = self.create_state(index, master)
            return (inner, master) if self._master_last else (master, inner)
        if weight.dtype == np.float16:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                          "slow convergence. Consider using multi_precision=True option of the "
                          "optimizer", stacklevel=2)
        return self.create_state(index, weight)

    def update_multi_precision(self, index, weight, grad, state):
        """``update``, on the float32 master copy for a float16 weight under
        ``multi_precision`` (then copied back into ``weight``).  MXNet's multi-tensor form,
        a list of indices with sequences of weights, gradients and states of that length,
        updates each parameter in turn (the same result as MXNet's fused kernels)."""
        if isinstance(index, (list, tuple)):
            sizes = {len(index)} | {len(x) if isinstance(x, (list, tuple)) else -1
                                    for x in (weight, grad, state)}
            if len(sizes) != 1:
                raise ParamError(
                    "update_multi_precision: a list of %d indices needs lists of as many "
                    "weights, gradients and states, got %s" % (len(index), ", ".join(
                        "%d" % len(x) if isinstance(x, (list, tuple)) else type(x).__name__
                        for x in (weight, grad, state))))
            for i, w, g, st in zip(index, weight, grad, state):
                self.update_multi_precision(i, w, g, st)
            return
        if not (self.multi_precision and weight.dtype == np.float16):
            return self.update(index, weight, grad, state)
        inner, master = state if self._master_last else state[::-1]
        self.update(index, master, grad.astype(np.float32), inner)
        weight[...] = master


@register
class SGD(Optimizer):
    """mom = momentum·mom - lr·(g + wd·w);  w += mom   (plain: w -= lr·(g + wd·w))."""
    _master_last = True

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        return np.zeros_like(weight) if self.momentum != 0 else None

    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad)
        if state is None:
            weight -= lr * g
        else:
            state *= self.momentum
            state -= lr * g
            weight += state


@register
class NAG(SGD):
    """Nesterov: g' = g + wd·w; mom = momentum·mom - lr·g'; w += momentum·mom - lr·g'.

    The momentum holds lr-scaled steps, as MXNet 1.9.1's state does, so a learning-rate
    schedule changes only the new term (not the remembered ones).  MXNet 1.9.1 differs when
    wd > 0: its kernel updates the weight in place first and then
    reads the *new* weight for the momentum's weight-decay term (measured: w = 1, wd = 0.1,
    lr = 1, gradient 0 leaves a momentum of -0.085, not -0.1).  symnorm decays with the
    weight the step started from, as the formula says."""
    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad)
        if state is None:
            weight -= lr * g
            return
        g *= lr
        state *= self.momentum
        state -= g
        weight += self.momentum * state
        weight -= g


@register
class Adam(Optimizer):
    """m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
    w -= lr·sqrt(1-β2^t)/(1-β1^t) · m/(sqrt(v) + ε)  (g = clip(rescale·grad + wd·w))."""
    clip_after_wd = True
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        # lazy_update: MXNet's sparse-gradient mode; every gradient here is dense
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.lazy_update = lazy_update

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def _moments(self, index, grad, state, weight, coupled_wd):
        t, _, g = self._step(index, weight, grad, coupled_wd)
        m, v = state
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        return t, m, v

    def update(self, index, weight, grad, state):
        t, m, v = self._moments(index, grad, state, weight, True)
        lr = self._get_lr(index) * np.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        weight -= lr * m / (np.sqrt(v) + self.epsilon)


@register
class AdamW(Adam):
    """Adam with decoupled weight decay: w -= lr·(m̂/(sqrt(v̂) + ε) + wd·w)
    (g = clip(rescale·grad))."""
    clip_after_wd = False
    def update(self, index, weight, grad, state):
        wd = self._get_wd(index)
        t, m, v = self._moments(index, grad, state, weight, False)
        lr = self._get_lr(index)
        mhat = m / (1 - self.beta1 ** t)
        vhat = v / (1 - self.beta2 ** t)
        weight -= lr * (mhat / (np.sqrt(vhat) + self.epsilon) + wd * weight)


@register
class RMSProp(Optimizer):
    """MXNet's two forms, with g = clip(rescale·grad + wd·w):

    * ``centered=False`` (Tieleman & Hinton): n = γ1·n + (1-γ1)·g²;  w -= lr·g/sqrt(n + ε)
    * ``centered=True`` (Graves 2013, eq. 38-45): n = γ1·n + (1-γ1)·g²;
      ḡ = γ1·ḡ + (1-γ1)·g;  Δ = γ2·Δ - lr·g/sqrt(n - ḡ² + ε);  w += Δ

    then w is clipped to ±clip_weights when set."""
    clip_after_wd = True

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8, centered=False,
                 clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1, self.gamma2, self.epsilon = gamma1, gamma2, epsilon
        self.centered, self.clip_weights = centered, clip_weights

    def create_state(self, index, weight):
        if self.centered:
            return np.zeros_like(weight), np.zeros_like(weight), np.zeros_like(weight)
        return (np.zeros_like(weight),)          # a 1-tuple, as MXNet 1.9.1 keeps it

    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad)
        n = state[0]
        n *= self.gamma1
        n += (1 - self.gamma1) * g * g
        if self.centered:
            _, mean, delta = state
            mean *= self.gamma1
            mean += (1 - self.gamma1) * g
            delta *= self.gamma2
            delta -= lr * g / np.sqrt(n - mean * mean + self.epsilon)
            weight += delta
        else:
            weight -= lr * g / np.sqrt(n + self.epsilon)
        if self.clip_weights:
            np.clip(weight, -self.clip_weights, self.clip_weights, out=weight)


@register
class AdaGrad(Optimizer):
    """h += g²;  w -= lr·(g/sqrt(h + eps) + wd·w)  (g = clip(rescale·grad); wd outside the
    history, as MXNet 1.9.1)."""
    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad, coupled_wd=False)
        wd = self._get_wd(index)
        state += g * g
        weight -= lr * (g / np.sqrt(state + self.float_stable_eps) + wd * weight)


@register
class AdaDelta(Optimizer):
    """a = ρ·a + (1-ρ)·g²;  Δ = sqrt(d + ε)/sqrt(a + ε)·g;  d = ρ·d + (1-ρ)·Δ²;
    w -= Δ + wd·w  (no learning rate, as in MXNet 1.9.1; g = clip(rescale·grad))."""
    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho, self.epsilon = rho, epsilon

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        _, _, g = self._step(index, weight, grad, coupled_wd=False)
        wd = self._get_wd(index)
        acc_g, acc_delta = state
        acc_g *= self.rho
        acc_g += (1 - self.rho) * g * g
        delta = np.sqrt(acc_delta + self.epsilon) / np.sqrt(acc_g + self.epsilon) * g
        acc_delta *= self.rho
        acc_delta += (1 - self.rho) * delta * delta
        weight -= delta + wd * weight


@register
class Adamax(Optimizer):
    """m = β1·m + (1-β1)·g;  u = max(β2·u, |g|);  w -= lr/(1-β1^t)·m/u
    (g = clip(rescale·grad + wd·w))."""
    clip_after_wd = True

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2 = beta1, beta2

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        t, lr, g = self._step(index, weight, grad)
        m, u = state
        m *= self.beta1
        m += (1 - self.beta1) * g
        np.maximum(self.beta2 * u, np.abs(g), out=u)
        weight -= lr / (1 - self.beta1 ** t) * m / u


@register
class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016), momentum schedule
    μ_t = β1·(1 - 0.5·0.96^(t·schedule_decay)):  m, v as Adam's;
    w -= lr·((1-μ_t)·g/(1-Πμ) + μ_{t+1}·m/(1-Πμ·μ_{t+1})) / (sqrt(v/(1-β2^t)) + ε)
    (g = clip(rescale·grad + wd·w)).  The product Πμ is kept per parameter; MXNet 1.9.1
    keeps one for the whole optimizer and so advances it once per parameter updated,
    which makes the schedule depend on how many parameters the model has."""
    clip_after_wd = True

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.schedule_decay = schedule_decay
        self._m_schedule: dict = {}

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def _mu(self, t):
        return self.beta1 * (1 - 0.5 * 0.96 ** (t * self.schedule_decay))

    def update(self, index, weight, grad, state):
        t, lr, g = self._step(index, weight, grad)
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        earlier = self._m_schedule.get(index)
        if earlier is None:             # first update, or resumed from saved states: Π over 1..t-1
            earlier = math.prod(self._mu(i) for i in range(1, t))
        schedule = earlier * mu_t
        self._m_schedule[index] = schedule
        m, v = state
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_bar = (1 - mu_t) * g / (1 - schedule) + mu_next * m / (1 - schedule * mu_next)
        weight -= lr * m_bar / (np.sqrt(v / (1 - self.beta2 ** t)) + self.epsilon)


@register
class Signum(Optimizer):
    """Sign momentum (Bernstein et al. 2018): m = μ·m - (1-μ)·(g + wd·w);
    w = (1 - lr·wd_lh)·w + lr·sign(m); without momentum (signSGD) the decay is outside
    the sign: w = (1 - lr·wd_lh)·w - lr·(sign(g) + wd·w).  g = clip(rescale·grad), as
    MXNet 1.9.1 (measured)."""
    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum, self.wd_lh = momentum, wd_lh

    def create_state(self, index, weight):
        return np.zeros_like(weight) if self.momentum != 0 else None

    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad, coupled_wd=state is not None)
        if state is None:
            step = -(np.sign(g) + self._get_wd(index) * weight)
        else:
            state *= self.momentum
            state -= (1 - self.momentum) * g
            step = np.sign(state)
        if self.wd_lh:
            weight *= 1 - lr * self.wd_lh
        weight += lr * step


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al. 2013), g = clip(rescale·grad):
    z += g - (sqrt(n + g²) - sqrt(n))·w/lr;  n += g²;
    w = (sign(z)·λ1 - z)/((β + sqrt(n))/lr + wd) where |z| > λ1, else 0."""
    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.lamda1, self.beta = lamda1, beta

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad, coupled_wd=False)
        wd = self._get_wd(index)
        z, n = state
        z += g - (np.sqrt(n + g * g) - np.sqrt(n)) * weight / lr
        n += g * g
        weight[...] = (np.sign(z) * self.lamda1 - z) / ((self.beta + np.sqrt(n)) / lr + wd) \
            * (np.abs(z) > self.lamda1)


def create(name, **kwargs) -> Optimizer:
    """An optimizer by name ('sgd', 'adam', ...) or the instance itself."""
    if isinstance(name, Optimizer):
        return name
    cls = _REGISTRY.get(str(name).lower())
    if cls is None:
        raise ValueError("unknown optimizer %r; known: %s" % (name, ", ".join(sorted(_REGISTRY))))
    return cls(**kwargs)


__all__ = ["Optimizer", "SGD", "NAG", "Adam", "AdamW", "RMSProp", "AdaGrad", "AdaDelta",
           "Adamax", "Nadam", "Signum", "Ftrl", "FTML", "LAMB", "SGLD", "create"]

# registered on import; they live in their own module only to keep this file short
from symnorm.train.optimizers_more import FTML, LAMB, SGLD  # noqa: E402,F401
