"""Host machine facts for the cost model: read what the machine tells, table the rest.

Read from the host: the CPU name and features (llvmlite, the same answer code generation
uses), hence the vector width and register counts, and the cache sizes (sysfs). Not readable
from the host: latencies, ports, decoded-uop cache and front-end limits; those come from a
per-CPU-family table keyed by the CPU name LLVM reports (``machine_facts.csv``, each value
with its source).

Every value can be overridden:

    t = host_target()                          # read once per process, then cached
    t = t.replace(fma_units=1)                 # a dataclass: replace any field
    UNROLLKIT_TARGET='{"fma_latency": 5}'      # env var: JSON object of fields, or a JSON file path
    host_target(overrides={"l2_bytes": 1 << 20})

A note on this machine: llvmlite reports ``rocketlake`` (the CPU model the KVM guest is given),
but the feature list has AMX and AVX512-FP16, which only Sapphire Rapids (Golden Cove cores)
has: the silicon is a Sapphire Rapids server. `family_of` maps such a name+features pair to
the family whose timings apply, and llvm-mca is run with that family's scheduling model.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import os
import threading
import typing
from pathlib import Path

import llvmlite.binding as llvm

from unrollkit.core.errors import UnrollkitError

ENV_VAR = "UNROLLKIT_TARGET"


@dataclasses.dataclass(frozen=True)
class Target:
    """The machine the cost model and the passes plan for: read from the host (CPU, features,
    registers, caches), tabled per CPU family (latencies, ports, bandwidths); any field overridable."""
    # -- read from the host
    cpu: str                      # LLVM's name of the host CPU
    family: str                   # the row of FAMILIES used for timings
    features: frozenset           # LLVM feature names that are on
    vector_bits: int              # widest vector register (512 with AVX-512F)
    preferred_vector_bits: int    # what LLVM's vectorisers aim for (256 on AVX-512 client/server tuning)
    vector_registers: int         # architectural vector registers (32 with AVX-512, 16 with AVX2)
    gp_registers: int             # usable general registers (16 minus rsp, rbp and a couple reserved)
    l1d_bytes: int
    l1i_bytes: int
    l2_bytes: int
    l3_bytes: int
    line_bytes: int
    #: the share of the shared L3 one core can count on (0: all of l3_bytes); see make_target
    l3_usable_bytes: int = 0
    #: associativity of the L1 data cache (sysfs); 8 when unreadable, the smallest of current
    #: x86 L1Ds, so the conservative answer for the GEMM schedule's set-conflict padding
    l1d_ways: int = 8
    #: associativity of the L2 (sysfs; 8 when unreadable): how many lines at a large power-of-two
    #: stride it keeps (the GEMM schedule's K blocks for an operand read down a column)
    l2_ways: int = 8
    # -- from the family table (FAMILIES)
    fma_latency: int = 4          # cycles of a dependent FMA (and FP add/mul on Intel since Skylake)
    add_latency: int = 4
    mul_latency: int = 4
    div_rthroughput: float = 4.0  # cycles per vector divide (reciprocal throughput)
    store_forward_latency: int = 5  # a load reading a just-stored value (store-to-load forwarding)
    fma_units: int = 2            # FMAs started per cycle (256-bit)
    fma_units_512: int = 2        # at 512 bits (1 on SKUs without the port-5 FMA)
    load_ports: int = 2           # loads per cycle (up to 256-bit)
    load_ports_512: int = 2       # 512-bit loads per cycle
    store_ports: int = 1          # stores per cycle
    issue_width: int = 4          # uops renamed/allocated per cycle
    uop_cache_uops: int = 1536    # decoded-uop cache capacity
    uops_per_32b_window: int = 18  # a 32-byte code window's uops must fit this to stay in the uop cache
    legacy_decode_bytes: int = 16  # bytes per cycle the legacy decoders fetch
    has_lsd: bool = False          # a loop stream detector (disabled on Skylake-class server parts)
    taken_branches_per_cycle: float = 1.0
    #: fetch cycles a trip loses at its taken back-edge beyond its resource bound (the front
    #: end redirects; llvm-mca assumes a perfect one). Measured here, mac in L1 at 1, 2, 4, 8
    #: zmm per trip: 0.14–0.27 cycles per trip over the port bound, the same at every width
    back_edge_cycles: float = 0.2
    l1_bytes_per_cycle: float = 128.0   # sustained load+store bandwidth for streaming kernels
    l2_bytes_per_cycle: float = 48.0
    l3_bytes_per_cycle: float = 16.0
    dram_bytes_per_cycle: float = 8.0
    mca_cpu: str = ""              # -mcpu for llvm-mca (the family's scheduling model)

    def replace(self, **changes) -> "Target":
        """A copy with ``changes``; each is checked (`check_fields`), a bad one is a `TargetError`."""
        changes = check_fields(changes, "target override")
        return dataclasses.replace(self, **changes)

    def vector_lanes(self, elem_bytes: int, bits: int | None = None) -> int:
        """Elements of ``elem_bytes`` bytes in one vector of ``bits`` (default: the width LLVM's
        vectorisers prefer); at least 1."""
        return max(1, (bits or self.preferred_vector_bits) // (8 * elem_bytes))

    def as_dict(self) -> dict:
        """The fields as a JSON-ready dict (``features`` as a sorted list)."""
        d = dataclasses.asdict(self)
        d["features"] = sorted(self.features)
        return d


#: The per-family facts the host cannot tell (latencies, ports, front end, bandwidths), one row
#: per (family, field) with the source of each value: machine_facts.csv beside this module.
#: Bandwidths are per-core transfer rates between adjacent levels in bytes/cycle, as the ECM
#: model uses them (a line from L3 pays L3→L2 and L2→L1). CPU names map to families in
#: cpu_families.csv.
FACTS_FILE = Path(__file__).with_name("machine_facts.csv")
CPU_FAMILIES_FILE = Path(__file__).with_name("cpu_families.csv")


def _typed(field: str, text: str):
    """A CSV cell as the type of `Target`'s field of that name."""
    kind = {f.name: f.type for f in dataclasses.fields(Target)}[field]
    if kind in ("bool", bool):
        if text not in ("True", "False"):
            raise UnrollkitError(f"{FACTS_FILE.name}: {field} must be True or False, got {text!r}")
        return text == "True"
    return {"int": int, "float": float, "str": str}.get(kind if isinstance(kind, str) else kind.__name__, str)(text)


def _read_families() -> tuple:
    """(FAMILIES {family: {field: value}}, SOURCES {(family, field): source}) from FACTS_FILE."""
    families, sources = {}, {}
    with FACTS_FILE.open(newline="") as f:
        for row in csv.DictReader(f):
            families.setdefault(row["family"], {})[row["field"]] = _typed(row["field"], row["value"])
            sources[(row["family"], row["field"])] = row["source"]
    return families, sources


FAMILIES, SOURCES = _read_families()
with CPU_FAMILIES_FILE.open(newline="") as _f:
    #: LLVM CPU name → family
    CPU_FAMILY = {row["llvm_cpu"]: row["family"] for row in csv.DictReader(_f)}


def family_of(cpu: str, features) -> str:
    """The family whose timings apply. A virtual machine may present an older CPU model than
    the silicon: AMX (``amx-tile``) exists only on Sapphire Rapids and later Xeons, so it
    overrides a client or Ice Lake name."""
    fam = CPU_FAMILY.get(cpu, "generic")
    if "amx-tile" in features and fam in ("icelake", "skylake-avx512", "generic"):
        return "sapphirerapids"
    return fam


# ---------------------------------------------------------------- host reading


def read_caches(root: str = "/sys/devices/system/cpu/cpu0/cache") -> dict:
    """{"l1d": bytes, "l1i": ..., "l2": ..., "l3": ..., "line": ...} from sysfs; missing levels absent."""
    out = {}
    for d in sorted(Path(root).glob("index*")):
        try:
            level = int((d / "level").read_text())
            kind = (d / "type").read_text().strip()
            size = _size((d / "size").read_text().strip())
            line = int((d / "coherency_line_size").read_text())
        except (OSError, ValueError):
            continue
        key = {(1, "Data"): "l1d", (1, "Instruction"): "l1i"}.get((level, kind), f"l{level}")
        out[key] = size
        out["line"] = line
        try:
            out[key + "_ways"] = int((d / "ways_of_associativity").read_text())
        except (OSError, ValueError):
            pass
        try:
            out[key + "_sharers"] = len(_cpu_list((d / "shared_cpu_list").read_text().strip()))
        except (OSError, ValueError):
            pass
    return out


def _cpu_list(text: str) -> set:
    """"0-3,8" → {0, 1, 2, 3, 8}"""
    cpus = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


#: L3 per core on Intel server parts since Skylake-SP (1.375–1.875 MiB slices); with the other
#: cores busy, a core keeps about its own slices' worth. Measured here (a 2-vCPU VM whose sysfs
#: claims a 480 MiB L3 shared by both): mac at 3 MB streams at L3 speed, gemv at 16 MB and dot
#: at 32–64 MB at DRAM speed (~7 B/cycle), so the usable share lies between 3 and 16 MiB.
L3_PER_CORE = 2 << 20


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


_init_lock = threading.Lock()


@functools.lru_cache(None)
def init_llvm():
    """Initialise LLVM's native target and assembly printer, once per process."""
    with _init_lock:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
    return True


@functools.lru_cache(None)
def host() -> tuple:
    """(triple, cpu name, feature string) of this machine."""
    init_llvm()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


@functools.lru_cache(None)
def cpuinfo() -> dict:
    """The first CPU's fields in /proc/cpuinfo (``model name``, ``flags``, ...); {} where it
    cannot be read. The one reader of that file (the benchmark's record, the C cache's key)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first CPU is enough
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def read_host() -> dict:
    """CPU name and enabled features, as LLVM's code generation sees them."""
    _, cpu, _ = host()
    feats = frozenset(k for k, v in llvm.get_host_cpu_features().items() if v)
    return {"cpu": cpu, "features": feats}


def make_target(cpu: str, features, caches: dict | None = None) -> Target:
    """A Target from a CPU name, its features and cache sizes (the pure part of host_target)."""
    features = frozenset(features)
    caches = caches or {}
    avx512 = "avx512f" in features
    fam = family_of(cpu, features)
    # LLVM's x86 tuning "prefer-256-bit" is on for every AVX-512 Intel core since Skylake-SP
    # (the 512-bit frequency licence); the loop vectoriser then picks 256-bit vectors unless
    # a wider interleave group makes zmm pay (seen here: mac unrolled by 2 uses zmm).
    preferred = 256 if ("avx2" in features or avx512) else 128
    return Target(
        cpu=cpu, family=fam, features=features,
        vector_bits=512 if avx512 else 256 if "avx" in features else 128,
        preferred_vector_bits=preferred,
        vector_registers=32 if avx512 else 16,
        gp_registers=14,
        l1d_bytes=caches.get("l1d", 32 << 10), l1i_bytes=caches.get("l1i", 32 << 10),
        l2_bytes=caches.get("l2", 1 << 20), l3_bytes=caches.get("l3", 16 << 20),
        line_bytes=caches.get("line", 64),
        l3_usable_bytes=min(caches.get("l3", 16 << 20), L3_PER_CORE * max(1, caches.get("l3_sharers", 1))),
        l1d_ways=caches.get("l1d_ways", 8) or 8, l2_ways=caches.get("l2_ways", 8) or 8,
        **FAMILIES[fam])


def overrides_from_env() -> dict:
    """``UNROLLKIT_TARGET``: a JSON object, or the path of a JSON file holding one; a bad
    value is a `TargetError` naming the variable (and the field), not a raw JSON or
    arithmetic error on every compile."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return {}
    where = ENV_VAR
    if not raw.startswith(("{", "[")):
        where = f"{ENV_VAR} (the file {raw!r})"
        try:
            raw = Path(raw).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(f"{ENV_VAR}={raw!r} is neither a JSON object nor a readable JSON "
                              f"file: {exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:  # json.JSONDecodeError, or recursion on absurd nesting
        raise TargetError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise TargetError(f"{where} is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise TargetError(f"{where} must hold a JSON object of Target fields, e.g. "
                          '\'{"fma_latency": 5}\'')
    return check_fields(data, where)


class TargetError(UnrollkitError, ValueError):
    """A Target field override (``UNROLLKIT_TARGET`` or ``replace``) that cannot describe a machine."""


#: fields that may be 0 (0 means "not given": see l3_usable_bytes)
_MAY_BE_ZERO = {"l3_usable_bytes"}
#: vector register widths a target may claim: a power of two in this range (bits)
VECTOR_BITS = (64, 4096)


def check_fields(changes: dict, where: str) -> dict:
    """``changes`` with each value checked against its Target field's type and range (a
    register width of 3 bits divided lanes by zero in every compile); ``features`` as a
    frozenset. ``where`` names the source in the message."""
    hints = typing.get_type_hints(Target)
    names = [f.name for f in dataclasses.fields(Target)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise TargetError(f"{where}: unknown target field(s) {unknown}; the fields are {names}")
    out = dict(changes)
    for key, value in changes.items():
        ty = hints[key]

        def bad(expected, key=key, value=value):
            raise TargetError(f"{where}: field {key!r} must be {expected}, got {value!r}")
        if ty is frozenset:
            if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)) \
                    or not all(isinstance(x, str) for x in value):
                bad("a list of LLVM feature names")
            out[key] = frozenset(value)
        elif ty is str:
            if not isinstance(value, str):
                bad("a string")
        elif ty is bool:
            if not isinstance(value, bool):
                bad("true or false")
        elif ty is int:
            low = 0 if key in _MAY_BE_ZERO else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                bad(f"an integer >= {low}")
            if key.endswith("vector_bits") and not (VECTOR_BITS[0] <= value <= VECTOR_BITS[1]
                                                    and value & (value - 1) == 0):
                bad(f"a power of two from {VECTOR_BITS[0]} to {VECTOR_BITS[1]} (bits)")
        elif ty is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                bad("a positive number")
    return out


@functools.lru_cache(None)
def _host_cached(env_json: str) -> Target:
    h = read_host()
    t = make_target(h["cpu"], h["features"], read_caches())
    over = json.loads(env_json)
    return t.replace(**over) if over else t


def host_target(overrides: dict | None = None) -> Target:
    """This machine's Target, with ``UNROLLKIT_TARGET`` and then ``overrides`` applied."""
    t = _host_cached(json.dumps(overrides_from_env(), sort_keys=True))
    return t.replace(**overrides) if overrides else t
