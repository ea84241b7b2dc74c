"""Names of a package imported the first time they are used, as the real objects of their modules (so
``help()`` shows their signatures and documentation, and ``import`` stays cheap)."""

from __future__ import annotations

import importlib
import sys
import types


class LazyPackage(types.ModuleType):
    """A package whose ``_LAZY`` names are imported on first use. Importing a submodule that shares such a
    name (``circopt.simulate``) must not hide the object (Python binds a submodule as an attribute of its
    package once it is imported)."""

    def __setattr__(self, name: str, value) -> None:
        if name in self.__dict__.get("_LAZY", ()) and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def install(package: str, names: dict[str, tuple[str, str]]) -> None:
    """Make ``names`` (public name -> (submodule, attribute)) of ``package`` lazy: ``__getattr__`` imports
    the submodule the first time a name is read and keeps the object; ``dir()`` lists them."""
    module = sys.modules[package]

    def __getattr__(name: str):
        try:
            sub, attr = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f".{sub}", package), attr)
        module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | set(names))

    module.__dict__.update(__getattr__=__getattr__, __dir__=__dir__, _LAZY=names)
    module.__class__ = LazyPackage
