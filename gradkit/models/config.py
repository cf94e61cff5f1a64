"""Settings as dataclasses whose fields carry their own command-line help, bounds and resume rule.

One place decides each setting: a field made with ``option(default, help, ...)`` is a constructor argument, a
``gradkit train`` flag (``n_embd`` -> ``--n-embd``, its help and default shown), a bounds check and a line of
the checkpoint's metadata. ``check_fields`` turns a value out of range into one ``ConfigError`` naming the
flag.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any


class ConfigError(ValueError):
    """A training setting that cannot work (the message names it and the fix)."""


def option(default: Any, help: str, *, low: float | None = None, choices: tuple[str, ...] | None = None,  # noqa: A002
           resume: bool = False) -> Any:
    """A dataclass field that is also a command-line flag.

    Args:
        default: the published recipe's value (``None``: filled in by the config's ``resolved()``, the help
            says how).
        help: one line for ``gradkit train --help``.
        low: the smallest value allowed (numbers); ints are checked to be ints.
        choices: the values allowed (strings).
        resume: True when a resumed run may change it (steps, learning rate, logging); False when the
            checkpoint fixes it (it shapes the model, the data or the random streams).
    """
    return dataclasses.field(default=default, metadata={"help": help, "low": low, "choices": choices,
                                                        "resume": resume})


def flag(name: str) -> str:
    """The command-line flag of field ``name``: ``n_embd`` -> ``--n-embd``."""
    return "--" + name.replace("_", "-")


def meta(cls: type, name: str) -> Mapping[str, Any]:
    """Field ``name``'s metadata, from the nearest class in ``cls``'s MRO that declared it with ``option``
    (a subclass may redeclare a field with only a new default)."""
    for klass in cls.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return field.metadata
    return {}


def value_type(cls: type, name: str) -> type:
    """The Python type of field ``name`` (``int | None`` -> ``int``)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.cast(type, hint)


def check_fields(config: Any) -> None:
    """Check every ``option`` field of dataclass ``config`` against its type, ``low`` and ``choices``.

    Raises:
        ConfigError: naming the flag, the rule and the value (``--n-embd must be an integer >= 1, got 0``).
    """
    cls = type(config)
    for field in dataclasses.fields(config):
        info, value = meta(cls, field.name), getattr(config, field.name)
        if not info or value is None:
            continue
        kind, low, name = value_type(cls, field.name), info["low"], flag(field.name)
        bound = "" if low is None else f" >= {low:g}"
        if kind is int and (not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low)):
            raise ConfigError(f"{name} must be an integer{bound}, got {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                              or (low is not None and value < low)):
            raise ConfigError(f"{name} must be a finite number{bound}, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        if info["choices"] is not None and value not in info["choices"]:
            raise ConfigError(f"{name} must be {' or '.join(info['choices'])}, got {value!r}")


def options(cls: type) -> list[str]:
    """The names of ``cls``'s ``option`` fields, in declaration order."""
    return [f.name for f in dataclasses.fields(cls) if meta(cls, f.name)]
