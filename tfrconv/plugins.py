"""One plugin manager: loads the `tfrconv` entry points and collects what they register.

Builtin plugins are entry points of the tfrconv distribution itself, so they load exactly the way
a third-party plugin does. Loading is isolated per plugin: a module that fails to import, or a
hook that raises or registers something invalid, is recorded as a failure (shown by
`tfrconv plugins`) and the rest keep working. Each hook is called through pluggy once per plugin
(a subset hook caller holding that plugin alone), so pluggy's call monitoring sees every call and
one plugin's exception cannot stop the others.

A format name registered twice is a conflict, not a failure: the first registration wins (builtins
load first, then third parties by entry-point name) and every command using that format warns,
naming both distributions. Registered formats are stored wrapped (`plugin_code.guard_format`), so
an exception in a format's code is reported as that plugin's.

Entry points load when something they register is looked up: a format command imports its own
builtin, the label maps' and the transforms' (whose options every format takes), and every third
party (what they register is unknown until imported); listing formats, commands, plugins,
failures or conflicts loads everything. `BUILTIN_FORMATS` and `BUILTIN_PROVIDERS` say what each
builtin registers (tests/test_lazy_plugins.py holds them to it). Registrations resolve in load rank
(builtins first, then third parties by name) whatever the order of loading, so a partly loaded
registry answers exactly as a full one would.

Environment:
- ``TFRCONV_LOAD_PLUGINS``: comma-separated entry-point names to load (empty = none); unset = all.
- ``TFRCONV_TRACE_PLUGINS=1``: print every hook call (and how it ended) to stderr.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pluggy

from . import __version__, hookspecs
from .commands import Command
from .entrypoints import EntryPoint, entry_points
from .errors import PluginError, UsageError
from .formats import FormatSpec
from .plugin_code import guard_format
from .settings import COMMON_NAMES
from .transforms import TransformSpec

ENTRY_POINT_GROUP = "tfrconv"
LOAD_ENV = "TFRCONV_LOAD_PLUGINS"
TRACE_ENV = "TFRCONV_TRACE_PLUGINS"
OWN_DIST = "tfrconv"

# What the builtin entry points register, so that a format command imports only the builtins it
# uses (importing all fifteen cost ~60 M instructions, ~15 ms, of every run). A builtin format
# plugin's entry point is named after its format; the builtins not named here register commands.
BUILTIN_FORMATS = frozenset({"coco", "csv", "cvat", "kitti", "labelme", "oid", "pets", "voc",
                             "yolo"})
BUILTIN_PROVIDERS = {"label_maps": "label_maps", "transforms": "transforms"}
ADDED_RANK = 1 << 30             # plugins added at run time rank after every entry point


class _PluginManager(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin: Any, name: str):
        # pluggy inspects every attribute of a plugin module (getattr_static): a third of
        # loading the builtins. A module attribute without our hookimpl mark is skipped first.
        if isinstance(plugin, ModuleType) and \
                not hasattr(plugin.__dict__.get(name), f"{self.project_name}_impl"):
            return None
        return super().parse_hookimpl_opts(plugin, name)


class _Record:
    """A plain record: equality and repr over its attributes, as a dataclass has. (Each
    @dataclass costs ~3 M instructions to create, on every command.)"""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.__dict__.items())
        return f"{type(self).__name__}({fields})"


class PluginInfo(_Record):
    def __init__(self, name: str, module: str, dist: str | None = None,
                 version: str | None = None, builtin: bool = False,
                 hooks: list[str] | None = None) -> None:
        self.name = name
        self.module = module
        self.dist = dist
        self.version = version
        self.builtin = builtin
        self.hooks: list[str] = [] if hooks is None else hooks
        self.formats: list[str] = []
        self.label_maps: list[str] = []
        self.commands: list[str] = []
        self.transforms: list[str] = []

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def origin(self) -> str:
        """Where the plugin comes from, for messages: "distribution tfrconv-yolo 0.1"."""
        if self.dist is None:
            return f"in-process plugin {self.name!r}"
        return f"distribution {self.dist}" + (f" {self.version}" if self.version else "")


class PluginFailure(_Record):
    def __init__(self, name: str, stage: str, error: str, dist: str | None = None) -> None:
        self.name = name
        self.stage = stage     # "import", or the hook that failed
        self.error = error
        self.dist = dist

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FormatConflict(_Record):
    """A format name two plugins registered: `used` won (it loaded first), `ignored` did not."""

    def __init__(self, format: str, used: str, used_origin: str, ignored: str,
                 ignored_origin: str) -> None:
        self.format = format
        self.used = used       # plugin names
        self.used_origin = used_origin
        self.ignored = ignored
        self.ignored_origin = ignored_origin

    def message(self) -> str:
        return (f"format {self.format!r} is registered by two plugins: {self.used} "
                f"({self.used_origin}) is used, {self.ignored} ({self.ignored_origin}) is "
                "ignored")

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "message": self.message()}


class LabelMapSource(_Record):
    def __init__(self, name: str, source: Any, plugin: str, description: str = "") -> None:
        self.name = name
        self.source = source   # a path (str/Path/Traversable) or a LabelMap
        self.plugin = plugin
        self.description = description


class Registry:
    """The loaded plugins and what they registered.

    The entry points found by `find_entry_points` load on first use (the module's docstring);
    `load_entry_points` loads them all at once.
    """

    def __init__(self) -> None:
        self.pm = _PluginManager("tfrconv")
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get(TRACE_ENV):
            self.pm.add_hookcall_monitoring(_trace_call, _trace_result)
        self._plugins: dict[str, PluginInfo] = {}
        self._failures: list[PluginFailure] = []
        self._conflicts: list[FormatConflict] = []
        self._formats: dict[str, FormatSpec] = {}
        self._label_maps: dict[str, LabelMapSource] = {}
        self._commands: dict[str, Command] = {}
        self._transforms: dict[str, TransformSpec] = {}
        self._waiting: list[EntryPoint] = []      # found, not loaded yet
        self._rank: dict[str, int] = {}          # plugin name -> load rank
        self._added = 0

    # -- what was registered (each loads what can register it) -----------------------------
    @property
    def formats(self) -> dict[str, FormatSpec]:
        self._load_all()
        return self._formats

    @property
    def commands(self) -> dict[str, Command]:
        self._load_all()
        return self._commands

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        self._load_all()
        return self._plugins

    @property
    def failures(self) -> list[PluginFailure]:
        self._load_all()
        return self._failures

    @property
    def conflicts(self) -> list[FormatConflict]:
        self._load_all()
        return self._conflicts

    @property
    def label_maps(self) -> dict[str, LabelMapSource]:
        self._load_with(BUILTIN_PROVIDERS["label_maps"])
        return self._label_maps

    @property
    def transforms(self) -> dict[str, TransformSpec]:
        self._load_with(BUILTIN_PROVIDERS["transforms"])
        return self._transforms

    # -- loading ---------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Find and load every entry point now."""
        self.find_entry_points()
        self._load_all()

    def find_entry_points(self) -> None:
        """Find the entry points to load (TFRCONV_LOAD_PLUGINS filters them) and their rank;
        each loads when something it may register is looked up."""
        wanted = os.environ.get(LOAD_ENV)
        allowed = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        eps = entry_points(ENTRY_POINT_GROUP)
        # Builtins first, then third parties by name: clashes resolve the same way every run.
        ordered = sorted(eps, key=lambda ep: (ep.dist != OWN_DIST, ep.name))
        for ep in ordered:
            if ep.name in self._rank or (allowed is not None and ep.name not in allowed):
                continue
            self._rank[ep.name] = len(self._rank)
            self._waiting.append(ep)

    def _load_all(self) -> None:
        if self._waiting:
            self._load(self._waiting)

    def _load_with(self, builtin: str | None) -> None:
        """Load every third party and the builtin entry point named `builtin` (if any)."""
        if self._waiting:
            self._load([ep for ep in self._waiting if ep.dist != OWN_DIST or ep.name == builtin])

    def _load(self, chosen: list[EntryPoint]) -> None:
        if not chosen:
            return
        self._waiting = [ep for ep in self._waiting if ep not in chosen]
        for ep in chosen:
            # The builtins are this very package: its version, whatever metadata is found first
            # (a source checkout's version-less tfrconv.egg-info, for instance).
            dist, version = ep.dist, __version__ if ep.dist == OWN_DIST else ep.version
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
                self._failures.append(PluginFailure(ep.name, "import", _one_line(exc), dist))
                continue
            self.add(module, ep.name, dist=dist, version=version, builtin=dist == OWN_DIST,
                     collect=False)
        self.collect()

    def add(self, plugin: Any, name: str, *, dist: str | None = None, version: str | None = None,
            builtin: bool = False, collect: bool = True) -> None:
        """Register a plugin object or module (tests use this for throwaway plugins)."""
        if name in self._plugins:
            raise PluginError(f"a plugin named {name!r} is already loaded")
        if name not in self._rank:
            self._rank[name] = ADDED_RANK + self._added
            self._added += 1
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl with an unknown hook name
            self._failures.append(PluginFailure(name, "register", _one_line(exc), dist))
            return
        module = getattr(plugin, "__name__", type(plugin).__name__)
        hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or ())
        self._plugins[name] = PluginInfo(name, module, dist, version, builtin, hooks)
        if collect:
            self.collect()

    def remove(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self._plugins.pop(name, None)
        self._rank.pop(name, None)
        self._failures = [f for f in self._failures if f.name != name]
        self.collect()

    def collect(self) -> None:
        """(Re)run the register_* hooks, one implementation at a time, isolating failures, in
        load rank: what a partly loaded registry holds is what a full one holds of it."""
        self._formats.clear()
        self._label_maps.clear()
        self._commands.clear()
        self._transforms.clear()
        self._failures = sorted((f for f in self._failures if f.stage in ("import", "register")),
                                key=self._rank_of)
        self._conflicts.clear()
        self._plugins = dict(sorted(self._plugins.items(), key=lambda pair: self._rank_of(pair[1])))
        for info in self._plugins.values():
            info.formats, info.label_maps, info.commands = [], [], []
            info.transforms = []
        self._run_hook("register_formats", self._register_format)
        self._run_hook("register_label_maps", self._register_label_map)
        self._run_hook("register_commands", self._register_command)
        self._run_hook("register_transforms", self._register_transform)

    def _run_hook(self, hook_name: str, handler) -> None:
        hook = getattr(self.pm.hook, hook_name)
        everyone = self.pm.get_plugins()
        # get_hookimpls() is in registration order (pluggy *calls* them in reverse); ordered by
        # load rank instead, as a full load in rank order would have registered them.
        for impl in sorted(hook.get_hookimpls(), key=self._impl_order):
            plugin_name = impl.plugin_name
            just_this_one = self.pm.subset_hook_caller(hook_name, everyone - {impl.plugin})

            def register(*args: Any, _plugin: str = plugin_name, **kwargs: Any) -> None:
                handler(_plugin, *args, **kwargs)

            try:
                just_this_one(register=register)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
                self._failures.append(PluginFailure(plugin_name, hook_name, _one_line(exc),
                                                    self._dist_of(plugin_name)))

    def _rank_of(self, item: PluginInfo | PluginFailure) -> int:
        return self._rank.get(item.name, ADDED_RANK * 2)

    def _impl_order(self, impl) -> tuple[bool, int, int]:
        """Where pluggy lists `impl` had every plugin been registered in rank order: wrappers
        after the rest; trylast ones first, latest first; then the plain ones; tryfirst last."""
        rank = self._rank.get(impl.plugin_name, ADDED_RANK * 2)
        group = 0 if impl.trylast else 2 if impl.tryfirst else 1
        return (bool(impl.hookwrapper or impl.wrapper), group, -rank if group == 0 else rank)

    def _dist_of(self, plugin_name: str) -> str | None:
        info = self._plugins.get(plugin_name)
        return info.dist if info else None

    def _origin(self, plugin_name: str) -> str:
        info = self._plugins.get(plugin_name)
        return info.origin if info else f"plugin {plugin_name!r}"

    def _register_format(self, plugin: str, spec: FormatSpec) -> None:
        if not isinstance(spec, FormatSpec):
            raise PluginError(f"register_formats: expected a FormatSpec, got {type(spec).__name__}")
        if spec.name in RESERVED_NAMES:
            raise PluginError(f"format {spec.name!r} is already registered by tfrconv")
        if spec.name in self._formats:
            owner = self._owner("formats", spec.name)
            if owner == plugin:
                raise PluginError(f"format {spec.name!r} is registered twice")
            self._conflicts.append(FormatConflict(spec.name, owner, self._origin(owner), plugin,
                                                  self._origin(plugin)))
            return
        self._formats[spec.name] = guard_format(spec, self._origin(plugin))
        self._plugins[plugin].formats.append(spec.name)

    def _register_label_map(self, plugin: str, name: str, source: Any,
                            description: str = "") -> None:
        if name in self._label_maps:
            raise PluginError(f"label map {name!r} is already registered by "
                              f"{self._label_maps[name].plugin}")
        self._label_maps[name] = LabelMapSource(name, source, plugin, description)
        self._plugins[plugin].label_maps.append(name)

    def _register_command(self, plugin: str, command: Command) -> None:
        if not isinstance(command, Command):
            raise PluginError(f"register_commands: expected a Command, got "
                              f"{type(command).__name__}")
        if command.name in self._commands or command.name in self._formats \
                or command.name in RESERVED_NAMES:
            raise PluginError(f"command {command.name!r} clashes with an existing command")
        self._commands[command.name] = command
        self._plugins[plugin].commands.append(command.name)

    def _register_transform(self, plugin: str, spec: TransformSpec) -> None:
        if not isinstance(spec, TransformSpec):
            raise PluginError(f"register_transforms: expected a TransformSpec, got "
                              f"{type(spec).__name__}")
        if spec.name in self._transforms:
            raise PluginError(f"transform {spec.name!r} is already registered by "
                              f"{self._owner('transforms', spec.name)}")
        taken = {opt.name: name for name, other in self._transforms.items()
                 for opt in other.options}
        for opt in spec.options:
            if opt.name in COMMON_NAMES:
                raise PluginError(f"transform {spec.name!r}: option {opt.name!r} is a common "
                                  "option")
            if opt.name in taken:
                raise PluginError(f"transform {spec.name!r}: option {opt.name!r} is already "
                                  f"an option of transform {taken[opt.name]!r}")
        self._transforms[spec.name] = spec
        self._plugins[plugin].transforms.append(spec.name)

    def transform_option_names(self) -> frozenset[str]:
        """Every registered transform's option names (they are options of every format)."""
        return frozenset(opt.name for spec in self.transforms.values() for opt in spec.options)

    def _owner(self, kind: str, name: str) -> str | None:
        return next((p.name for p in self._plugins.values() if name in getattr(p, kind)), None)

    # -- lookups ---------------------------------------------------------------------------
    def has_format(self, name: str) -> bool:
        """Whether format `name` is registered, loading only its builtin and the third parties
        when one of them registers it."""
        self._load_with(name if name in BUILTIN_FORMATS else None)
        if name not in self._formats:
            self._load_all()
        return name in self._formats

    def format(self, name: str) -> FormatSpec:
        if not self.has_format(name):
            known = ", ".join(sorted(self._formats)) or "none loaded"
            raise UsageError(f"unknown format {name!r} (registered formats: {known})") from None
        return self._formats[name]

    def format_owner(self, name: str) -> str | None:
        self.has_format(name)
        return self._owner("formats", name)

    def conflicts_for(self, format_name: str) -> list[FormatConflict]:
        self.has_format(format_name)       # only third parties can register a builtin's name
        return [c for c in self._conflicts if c.format == format_name]

    def failure_summary(self) -> str | None:
        """One line naming the plugins that failed to load or register, or None."""
        names = list(dict.fromkeys(f.name for f in self.failures))
        if not names:
            return None
        plugins = "plugin" if len(names) == 1 else "plugins"
        return (f"{len(names)} {plugins} failed to load: {', '.join(names)} "
                "(see `tfrconv plugins`)")


# Verbs the core CLI owns; a plugin cannot take these names.
RESERVED_NAMES = frozenset({
    "formats", "plugins", "plugin", "labelmap", "convert", "sample", "help", "version",
})

_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry of the entry points, each loaded on first use (all of them at
    once when TFRCONV_TRACE_PLUGINS asks to see every hook call)."""
    global _registry
    if _registry is None:
        registry = Registry()
        if os.environ.get(TRACE_ENV):
            registry.load_entry_points()
        else:
            registry.find_entry_points()
        _registry = registry
    return _registry


def reset_registry() -> None:
    """Forget the loaded plugins (tests; a changed TFRCONV_LOAD_PLUGINS)."""
    global _registry
    _registry = None


@contextmanager
def temporary_plugin(plugin: Any, name: str) -> Iterator[Registry]:
    """Register `plugin` for the duration of a `with` block (unit tests of plugins). Raises
    `PluginError` when it registers nothing usable: a format name another plugin already has
    (the test would run that plugin's format instead), or a hook that fails."""
    registry = get_registry()
    registry.add(plugin, name)
    taken = [c.message() for c in registry.conflicts if c.ignored == name]
    failed = [f"{f.stage}: {f.error}" for f in registry.failures if f.name == name]
    if taken or failed:
        registry.remove(name)
        raise PluginError(f"temporary plugin {name!r} is not used: " + "; ".join(taken + failed))
    try:
        yield registry
    finally:
        registry.remove(name)


def _trace_call(hook_name: str, impls, kwargs) -> None:
    plugins = ", ".join(impl.plugin_name for impl in impls) or "no plugin"
    sys.stderr.write(f"tfrconv: trace: calling {hook_name}({', '.join(kwargs)}) "
                     f"of {plugins}\n")


def _trace_result(outcome, hook_name: str, impls, kwargs) -> None:
    plugins = ", ".join(impl.plugin_name for impl in impls) or "no plugin"
    ended = "returned" if outcome.exception is None else \
        f"raised {type(outcome.exception).__name__}: {outcome.exception}"
    sys.stderr.write(f"tfrconv: trace: {hook_name} of {plugins} {ended}\n")


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return (text[0] if text else type(exc).__name__) + where
