"""``gradkit.optim``: PyTorch's ``torch.optim`` layout: ``Optimizer``, ``SGD``, ``Adam``, ``AdamW`` and
``gradkit.optim.lr_scheduler``. Their state is Tensors updated through the one door (see ``optimizer``).

A typical loop (makemore part 3's recipe: lr 0.1, then 0.01 after half of 200,000 steps)::

    opt = gradkit.optim.SGD(model.parameters(), lr=0.1)
    sched = gradkit.optim.lr_scheduler.MultiStepLR(opt, milestones=[100_000], gamma=0.1)
    for i in range(200_000):
        loss = ...
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
"""

from . import lr_scheduler
from .adamw import Adam, AdamW
from .optimizer import Optimizer, ParamGroup
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "ParamGroup", "lr_scheduler"]
