"""Builtin format plugins, installed as the package `tfrconv_plugins`.

Each module is registered as a `tfrconv` entry point in pyproject.toml and uses only the public
plugin API (`tfrconv.hookimpl`, `FormatSpec`, `Option`, `Sample`, ...), exactly like a
third-party plugin.
"""
