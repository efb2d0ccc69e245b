"""More of MXNet 1.9.1's optimizers: FTML, LAMB and SGLD (registered in ``mx.optimizer``
like the others, so ``create('ftml')`` etc. work).  Kept apart from optimizer.py only to
keep files short; the formulas, defaults and the order of rescale, clip and weight decay
are MXNet 1.9.1's kernels' (checked against MXNet with all three set)."""
from __future__ import annotations

import math

import numpy as np

from symnorm import random as _random
from symnorm.train.optimizer import Optimizer, register


@register
class FTML(Optimizer):
    """Follow the Moving Leader (Zheng & Kwok 2017), g = clip(rescale·grad + wd·w):
    v = β2·v + (1-β2)·g²;  d_t = (1-β1^t)/lr·(sqrt(v/(1-β2^t)) + ε);
    z = β1·z + (1-β1)·g - (d_t - β1·d)·w;  d = d_t;  w = -z/d_t."""
    clip_after_wd = True

    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight), np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        t, lr, g = self._step(index, weight, grad)
        d, v, z = state
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        d_t = (1 - self.beta1 ** t) / lr * (np.sqrt(v / (1 - self.beta2 ** t)) + self.epsilon)
        z *= self.beta1
        z += (1 - self.beta1) * g - (d_t - self.beta1 * d) * weight
        d[...] = d_t
        weight[...] = -z / d_t


@register
class LAMB(Optimizer):
    """Layer-wise adaptive moments (You et al. 2019), g = clip(rescale·grad):
    m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;  with ``bias_correction`` m, v are divided
    by 1-β1^t, 1-β2^t;  u = m/(sqrt(v) + ε) + wd·w;
    r1 = ‖w‖ (raised to ``lower_bound``, lowered to ``upper_bound`` when they are set),
    r2 = ‖u‖;  w -= lr·(r1/r2 if both are nonzero else 1)·u."""
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.lower_bound, self.upper_bound = lower_bound, upper_bound
        self.bias_correction = bias_correction

    def create_state(self, index, weight):
        return np.zeros_like(weight), np.zeros_like(weight)

    def update(self, index, weight, grad, state):
        t, lr, g = self._step(index, weight, grad, coupled_wd=False)
        wd = self._get_wd(index)
        m, v = state
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        if self.bias_correction:
            u = (m / (1 - self.beta1 ** t)) / (np.sqrt(v / (1 - self.beta2 ** t)) + self.epsilon)
        else:
            u = m / (np.sqrt(v) + self.epsilon)
        u += wd * weight
        r1 = float(np.linalg.norm(weight))
        # MXNet passes a bound to its kernel only when it is truthy (0 or None: no bound)
        if self.lower_bound:
            r1 = max(r1, self.lower_bound)
        if self.upper_bound:
            r1 = min(r1, self.upper_bound)
        r2 = float(np.linalg.norm(u))
        ratio = r1 / r2 if r1 and r2 else 1.0
        weight -= (lr * ratio) * u


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics, g = clip(rescale·grad):
    w += -lr/2·(g + wd·w) + N(0, sqrt(lr)) noise, drawn from symnorm's random stream
    (``mx.random.seed`` makes it repeat; the draws are not MXNet's)."""
    def update(self, index, weight, grad, state):
        _, lr, g = self._step(index, weight, grad, coupled_wd=False)
        wd = self._get_wd(index)
        weight -= lr / 2 * (g + wd * weight)
        weight += self._noise(lr, weight.shape).astype(weight.dtype, copy=False)

    @staticmethod
    def _noise(lr, shape):
        """The Langevin noise: normal with standard deviation sqrt(lr)."""
        return _random.generator().normal(0.0, math.sqrt(lr), size=shape)
