"""The command-line flags of class-conditional generators (``G(z, y)``); see :mod:`ganeval.conditional`."""

from __future__ import annotations

import argparse

from .conditional import LABEL_INPUTS


def add_conditional_flags(p: argparse.ArgumentParser) -> None:
    """``--num-classes``, ``--label-input``, ``--labels`` and ``--classifier`` (every command that evaluates)."""
    g = p.add_argument_group("class-conditional generators (see docs/conditional.md)")
    g.add_argument("--num-classes", type=int, default=None, metavar="K",
                   help="the generator is class-conditional, forward(z, y), with K classes (TorchScript, .pt2, "
                        "factories; ganeval-format files carry their own spec)")
    g.add_argument("--label-input", choices=list(LABEL_INPUTS), default=None,
                   help="how y is given: index (an int64 class per row; default) or onehot (a one-hot row)")
    g.add_argument("--labels", type=int, default=None, metavar="C",
                   help="ask every sample for class C (default: balanced over the classes, seeded)")
    g.add_argument("--classifier", default=None, metavar="PATH",
                   help="TorchScript classifier (images -> logits) for conditional_accuracy on data without a "
                        "shipped one (digits / MNIST have theirs)")
