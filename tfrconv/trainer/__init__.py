"""The thin trainer: OD-API pipeline configs in, a trained, evaluated, exported detector out.

It speaks the OD API's language (pipeline config fields, model_main_tf2 flags, model-dir layout,
metric names, the exported `serving_default` signature) and trains a compact CenterNet-style
Keras 3 detector on a CPU. Modules that need TensorFlow import it themselves; importing this
package (and `config`, `schema`, `templates`, `metrics`) does not.
"""
