"""mdmtool.record: the dataclass shape the resolver's types rely on, without code generation."""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import ClassVar

import pytest

from mdmtool.model import Finding, NetworkPolicy, ResolveInputs, SandboxSpec, Source
from mdmtool.record import Record, asdict, field, fields, replace


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    kind: ClassVar[str] = "point"


class Frozen(Record, frozen=True):
    a: str
    b: int | None = None


class Child(Point):
    z: int = 5


def test_fields_in_definition_order_base_first_classvar_excluded():
    assert fields(Point) == ("x", "y", "tags")
    assert fields(Child(1)) == ("x", "y", "tags", "z")
    assert Point.kind == "point"


def test_positional_keyword_defaults_and_fresh_factories():
    a, b = Point(1), Point(x=2, y=3, tags=["t"])
    assert (a.x, a.y, a.tags) == (1, 0, [])
    assert (b.x, b.y, b.tags) == (2, 3, ["t"])
    a.tags.append("mine")
    assert Point(1).tags == []  # not shared between instances
    assert "tags" not in Point.__dict__  # a factory leaves no class attribute


@pytest.mark.parametrize("call, message", [
    (lambda: Point(), "missing argument 'x'"),
    (lambda: Point(1, 2, [], 4), "takes 3 arguments"),
    (lambda: Point(1, nope=2), "unexpected or repeated arguments nope"),
    (lambda: Point(1, x=2), "unexpected or repeated arguments x"),
])
def test_bad_construction_is_a_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_a_field_without_default_after_one_with_default_is_refused():
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(Record):  # noqa: F841
            a: int = 1
            b: int


def test_value_equality_per_class_and_mutable_records_are_unhashable():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert Point(1) != Child(1)  # another class never compares equal
    with pytest.raises(TypeError):
        hash(Point(1))


def test_frozen_records_are_immutable_and_hashable():
    f = Frozen("a", 1)
    assert {f: 1}[Frozen("a", 1)] == 1
    with pytest.raises(AttributeError, match="frozen"):
        f.a = "b"
    with pytest.raises(AttributeError, match="frozen"):
        del f.a
    assert hash(Source("f", 1, 2)) == hash(Source("f", 1, 2))


def test_repr_names_every_field():
    assert repr(Point(1, tags=["a"])) == "Point(x=1, y=0, tags=['a'])"
    assert str(Source("f.toml", 3, 4)) == "f.toml:3:4"  # a class's own __str__ stays


def test_post_init_runs_after_the_fields_are_set():
    class Norm(Record):
        name: str

        def __post_init__(self):
            self.name = self.name.lower()
    assert Norm("ABC").name == "abc"


def test_replace_copies_with_changes_and_refuses_unknown_fields():
    p = Point(1, 2, ["t"])
    q = replace(p, y=9)
    assert (q.x, q.y, q.tags) == (1, 9, ["t"]) and p.y == 2
    with pytest.raises(TypeError, match="no field nope"):
        replace(p, nope=1)
    f = Finding("MDM001", "error", "msg", Source("a", 1))
    assert replace(f, source=replace(f.source, file="b")).source == Source("b", 1)


def test_replace_and_asdict_also_take_dataclasses():
    @dataclass
    class Plain:
        spec: SandboxSpec
        n: int = 0
    d = Plain(SandboxSpec("read-only", "/w", network=NetworkPolicy(domains={"a.com": "allow"})))
    assert replace(d, n=2).n == 2
    out = asdict(d)
    assert out["spec"]["network"]["domains"] == {"a.com": "allow"}
    assert out["spec"]["fs_entries"] == [] and out["n"] == 0


def test_asdict_recurses_through_containers():
    spec = SandboxSpec("workspace-write", "/w", writable_roots=["/x"], network=NetworkPolicy(enabled=True))
    out = asdict({"k": [spec, (Frozen("a"),)]})
    assert out["k"][0]["network"]["enabled"] is True
    assert out["k"][1] == ({"a": "a", "b": None},)
    assert NetworkPolicy(**{**asdict(NetworkPolicy(mode="limited")), "allow_local_binding": True}).mode == "limited"


def test_records_pickle_and_copy_with_their_values():
    inputs = ResolveInputs(cwd="/p", overrides=["a=1"])
    for clone in (pickle.loads(pickle.dumps(inputs)), copy.deepcopy(inputs), copy.copy(inputs)):
        assert clone == inputs and clone is not inputs
    frozen = pickle.loads(pickle.dumps(Source("f", 1)))
    assert frozen == Source("f", 1) and hash(frozen) == hash(Source("f", 1))
