"""Typed records for the start-up path of ``mdmtool effective``.

Python 3.11's dataclasses compile three to five functions for every class when the class
is defined, and import ``inspect`` to do it: 17 ms of the ~45 ms that ``mdmtool effective``
spends in its own code (18 classes; measured with ``python -X importtime`` and
benchmarks/effective.py). :class:`Record` keeps the dataclass shape and behaviour that
this code uses, with one generic ``__init__`` and no code generation:

* fields are the class annotations in definition order, base classes first
  (``ClassVar`` annotations excluded); a class attribute is the field's default and
  :func:`field` gives a ``default_factory`` for mutable defaults;
* construction by position or keyword, ``__post_init__``, value equality between
  instances of the same class, ``Name(a=1, b=2)`` repr, ``frozen=True`` (immutable and
  hashable) as a class keyword;
* :func:`replace`, :func:`asdict` (recursive, also through dataclasses) and
  :func:`fields` stand in for their :mod:`dataclasses` namesakes.

Classes that are not on that path stay plain dataclasses.
"""

from __future__ import annotations

from typing import Any, Callable

_MISSING = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]):
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is made fresh for every instance (``field(default_factory=list)``)."""
    return _Factory(default_factory)


class Record:
    """Base class of a typed record (see the module docstring)."""

    _fields: tuple[str, ...] = ()
    _defaults: dict[str, Any] = {}
    _frozen = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        defaults: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):  # bases' fields first (already collected)
            if issubclass(base, Record) and base is not Record:
                names += [n for n in base.__dict__.get("_fields", ()) if n not in names]
                defaults.update(base.__dict__.get("_defaults", {}))
        for name, hint in cls.__dict__.get("__annotations__", {}).items():
            if str(hint).startswith(("ClassVar", "typing.ClassVar")):
                continue
            if name not in names:
                names.append(name)
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
            else:  # redeclared without a default
                defaults.pop(name, None)
        seen_default = False
        for name in names:
            if name in defaults:
                seen_default = True
            elif seen_default:
                raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        for name, value in defaults.items():  # a factory is no class attribute (as in dataclasses)
            if isinstance(value, _Factory) and name in cls.__dict__:
                delattr(cls, name)
        cls._fields = tuple(names)
        cls._defaults = defaults
        cls._frozen = frozen or cls._frozen
        if cls._frozen:
            cls.__hash__ = _frozen_hash  # type: ignore[assignment]
            cls.__setattr__ = _frozen_setattr  # type: ignore[assignment]
            cls.__delattr__ = _frozen_setattr  # type: ignore[assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable: unhashable, like a dataclass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, {len(args)} given")
        values = self.__dict__
        for name, value in zip(fields, args):
            values[name] = value
        defaults = self._defaults
        for name in fields[len(args):]:
            if name in kwargs:
                values[name] = kwargs.pop(name)
            else:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                values[name] = value.make() if isinstance(value, _Factory) else value
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected or repeated arguments "
                            f"{', '.join(sorted(kwargs))}")
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"


def _frozen_hash(self: Record) -> int:
    return hash(self._values())


def _frozen_setattr(self: Record, name: str, *value: Any) -> None:
    raise AttributeError(f"cannot change field {name!r} of frozen {type(self).__name__}")


def fields(obj: Record | type[Record]) -> tuple[str, ...]:
    """Field names of a record (class or instance), in order."""
    return obj._fields


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of ``obj`` with ``changes`` (a record, or a dataclass instance)."""
    if not isinstance(obj, Record):
        import dataclasses
        return dataclasses.replace(obj, **changes)
    values = {name: obj.__dict__[name] for name in obj._fields}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(unknown))}")
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> Any:
    """Records and dataclasses as plain dicts, recursively (lists, tuples and dicts too)."""
    if isinstance(obj, Record):
        return {name: asdict(obj.__dict__[name]) for name in obj._fields}
    if hasattr(type(obj), "__dataclass_fields__"):
        import dataclasses  # already loaded: obj is a dataclass
        return {f.name: asdict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list):
        return [asdict(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {asdict(k): asdict(v) for k, v in obj.items()}
    return obj
