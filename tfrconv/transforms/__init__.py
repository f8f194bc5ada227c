"""Transforms: what a conversion changes on each sample on its way to the records.

A plugin registers a `TransformSpec` through the `register_transforms` hook (the builtins in
`plugins/transforms.py` do it exactly so); its options become flags of every format and keywords
of `tfrconv.convert`. `spec.py` is the model, `prepared.py` turns the options a run was given
into the transforms that run, and the other modules are the builtins' code (docs/transforms.md).
"""

from .spec import Context, TransformSpec

__all__ = ["Context", "TransformSpec"]
