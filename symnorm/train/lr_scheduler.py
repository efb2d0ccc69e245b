"""Learning-rate schedules (``mx.lr_scheduler``): called with the update count, they return
the learning rate.  Each supports a linear or constant warm-up."""
from __future__ import annotations

import math


class LRScheduler:
    """Base schedule: a constant ``base_lr`` after an optional warm-up."""
    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        if warmup_mode not in ("linear", "constant"):
            raise ValueError("warmup_mode must be 'linear' or 'constant', got %r" % warmup_mode)
        self.base_lr, self.warmup_steps = base_lr, warmup_steps
        self.warmup_begin_lr, self.warmup_mode = warmup_begin_lr, warmup_mode

    def get_warmup_lr(self, num_update):
        """The learning rate during warm-up (linear ramp or constant)."""
        if self.warmup_mode == "constant":
            return self.warmup_begin_lr
        return self.warmup_begin_lr + (self.base_lr - self.warmup_begin_lr) * num_update / self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        return self.lr(num_update)

    def lr(self, num_update):
        return self.base_lr


class FactorScheduler(LRScheduler):
    """lr = base_lr · factor^k, never below stop_factor_lr, with k the number of multiples
    of ``step`` that ``num_update`` has passed (num_update > k·step).  As in MXNet 1.9.1
    (measured): the first decay comes at update step + 1, and a warm-up does not shift the
    decay points."""
    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, **warmup):
        super().__init__(base_lr, **warmup)
        if step < 1:
            raise ValueError("FactorScheduler: step must be >= 1, got %r" % step)
        if factor > 1.0:
            raise ValueError("FactorScheduler: factor must be <= 1 to decay, got %r" % factor)
        self.step, self.factor, self.stop_factor_lr = step, factor, stop_factor_lr

    def lr(self, num_update):
        k = max(0, num_update - 1) // self.step
        return max(self.base_lr * self.factor ** k, self.stop_factor_lr)


class MultiFactorScheduler(LRScheduler):
    """lr = base_lr · factor^(number of milestones in ``step`` passed)."""
    def __init__(self, step, factor=1, base_lr=0.01, **warmup):
        super().__init__(base_lr, **warmup)
        if any(b <= a for a, b in zip(step, step[1:])) or not step or step[0] < 1:
            raise ValueError("MultiFactorScheduler: step must be increasing and >= 1, got %r" % (step,))
        self.step, self.factor = list(step), factor

    def lr(self, num_update):
        return self.base_lr * self.factor ** sum(num_update > s for s in self.step)


class CosineScheduler(LRScheduler):
    """lr = final_lr + (base_lr - final_lr)·(1 + cos(π·t/T))/2 after warm-up, T = max_update - warmup."""
    def __init__(self, max_update, base_lr=0.01, final_lr=0, **warmup):
        super().__init__(base_lr, **warmup)
        if max_update < 1:
            raise ValueError("CosineScheduler: max_update must be >= 1")
        self.max_update, self.final_lr = max_update, final_lr

    def lr(self, num_update):
        if num_update >= self.max_update:
            return self.final_lr
        t = num_update - self.warmup_steps
        span = self.max_update - self.warmup_steps
        return self.final_lr + (self.base_lr - self.final_lr) * (1 + math.cos(math.pi * t / span)) / 2


class PolyScheduler(LRScheduler):
    """lr = final_lr + (base_lr - final_lr)·(1 - t/T)^pwr after warm-up (t = num_update -
    warmup, T = max_update - warmup), final_lr from max_update on."""
    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, **warmup):
        super().__init__(base_lr, **warmup)
        if max_update < 1:
            raise ValueError("PolyScheduler: max_update must be >= 1")
        self.max_update, self.power, self.final_lr = max_update, pwr, final_lr

    def lr(self, num_update):
        if num_update >= self.max_update:
            return self.final_lr
        t = num_update - self.warmup_steps
        span = self.max_update - self.warmup_steps
        return self.final_lr + (self.base_lr - self.final_lr) * (1 - t / span) ** self.power


__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "CosineScheduler",
           "PolyScheduler"]
