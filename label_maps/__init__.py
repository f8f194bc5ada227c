"""Builtin label maps (`.pbtxt`), installed as the package `tfrconv_label_maps`.

Registered by name through the `register_label_maps` hook in `tfrconv_plugins.builtin_label_maps`.
"""
