"""The per-family machine facts are data (unrollkit/core/machine_facts.csv, issue 16): every
family gives every field the cost model reads, typed as `Target` declares it, each with a source."""
from __future__ import annotations

import dataclasses

import pytest

from unrollkit.core import target as t
from unrollkit.core.errors import UnrollkitError


def test_every_family_has_every_field_typed_and_sourced():
    fields = {f.name: f.type for f in dataclasses.fields(t.Target)}
    names = set(t.FAMILIES["generic"])
    assert {"fma_latency", "l1_bytes_per_cycle", "mca_cpu", "has_lsd"} <= names
    for fam, facts in t.FAMILIES.items():
        assert set(facts) == names, fam
        for field, value in facts.items():
            assert type(value).__name__ == fields[field], (fam, field, value)
            assert t.SOURCES[(fam, field)].strip(), (fam, field)


def test_every_cpu_maps_to_a_known_family_and_the_host_gets_its_row():
    assert set(t.CPU_FAMILY.values()) <= set(t.FAMILIES)
    host = t.host_target()
    assert host.fma_latency == t.FAMILIES[host.family]["fma_latency"]


def test_a_malformed_boolean_is_refused_by_name():
    with pytest.raises(UnrollkitError, match="has_lsd must be True or False"):
        t._typed("has_lsd", "yes")
