"""A structural check of an ELF relocatable object before LLVM loads it.

LLVM's object reader trusts its input: a truncated object, or an ELF header over zeros, crashed
the process (SIGSEGV) in ``ObjectFileRef.from_data`` and in MCJIT's loader. Objects from the
disk cache are checksummed, but a checksum proves only that the bytes are the ones written, not
that what was written is an object. So before an object is handed to LLVM, this checks what
LLVM would otherwise index blindly: the header, the section table, the symbol tables and the
relocations all lie inside the buffer and refer to sections and symbols that exist.
"""
from __future__ import annotations

import struct

from unrollkit.core.errors import CompileError

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")      # Elf64_Ehdr
_SECTION = struct.Struct("<IIQQQQIIQQ")           # Elf64_Shdr
_SYMBOL = struct.Struct("<IBBHQQ")                # Elf64_Sym
_RELA = struct.Struct("<QQq")                     # Elf64_Rela
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 3, 4, 8, 9
SHN_LORESERVE = 0xFF00
ET_REL, EM_X86_64 = 1, 62


def check_object(obj) -> None:
    """Raise `CompileError` unless ``obj`` is a well-formed little-endian ELF64 relocatable
    x86-64 object (what MCJIT emits on this host)."""
    why = _problem(obj)
    if why:
        raise CompileError(f"not a loadable object file: {why}")


def _problem(obj) -> str | None:
    if not isinstance(obj, (bytes, bytearray)) or len(obj) < _HEADER.size:
        return "too short"
    (ident, etype, machine, _version, _entry, _phoff, shoff, _flags, ehsize, _phentsize,
     _phnum, shentsize, shnum, shstrndx) = _HEADER.unpack_from(obj)
    if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
        return "not a little-endian ELF64 file"
    if etype != ET_REL or machine != EM_X86_64:
        return f"ELF type {etype}, machine {machine}: not an x86-64 relocatable object"
    if ehsize != _HEADER.size or shentsize != _SECTION.size or not 0 < shnum < SHN_LORESERVE \
            or shstrndx >= shnum:
        return "malformed ELF header"
    if shoff + shnum * _SECTION.size > len(obj):
        return "section table outside the file"
    sections = [_SECTION.unpack_from(obj, shoff + i * _SECTION.size) for i in range(shnum)]
    symbols = {}
    for i, (_name, stype, _f, _a, offset, size, link, _info, _al, entsize) in enumerate(sections):
        if stype != SHT_NOBITS and offset + size > len(obj):
            return f"section {i} outside the file"
        if stype in (SHT_SYMTAB, SHT_RELA, SHT_REL) and (link >= shnum or not entsize
                                                         or size % entsize):
            return f"malformed table in section {i}"
        if stype == SHT_SYMTAB:
            if entsize != _SYMBOL.size or sections[link][1] != SHT_STRTAB:
                return f"malformed symbol table in section {i}"
            symbols[i] = size // entsize
            strings = sections[link][5]
            for k in range(size // entsize):
                name, _inf, _oth, shndx, _val, _sz = _SYMBOL.unpack_from(obj, offset + k * entsize)
                if name >= max(strings, 1) or (shndx >= shnum and shndx < SHN_LORESERVE):
                    return f"symbol {k} refers outside its tables"
    for i, (_name, stype, _f, _a, offset, size, link, info, _al, entsize) in enumerate(sections):
        if stype == SHT_REL:
            return "REL relocations (x86-64 uses RELA)"
        if stype != SHT_RELA:
            continue
        if entsize != _RELA.size or link not in symbols or info >= shnum:
            return f"malformed relocation section {i}"
        for k in range(size // entsize):
            where, rinfo, _add = _RELA.unpack_from(obj, offset + k * entsize)
            if rinfo >> 32 >= symbols[link] or where + 8 > sections[info][5]:
                return f"relocation {k} of section {i} names a missing symbol"
    return None


def undefined_symbols(obj) -> list:
    """The names of the symbols a well-formed object (`check_object`) uses but does not
    define: the functions the loader must find in this process."""
    (_i, _t, _m, _v, _e, _p, shoff, _f, _eh, _pe, _pn, _se, shnum, _sx) = _HEADER.unpack_from(obj)
    sections = [_SECTION.unpack_from(obj, shoff + i * _SECTION.size) for i in range(shnum)]
    names = []
    for _name, stype, _f, _a, offset, size, link, _info, _al, entsize in sections:
        if stype != SHT_SYMTAB:
            continue
        strings = sections[link][4]
        for k in range(1, size // entsize):  # entry 0 is the null symbol
            name, _inf, _oth, shndx, _val, _sz = _SYMBOL.unpack_from(obj, offset + k * entsize)
            if shndx == 0 and name:
                end = obj.index(b"\0", strings + name)
                names.append(bytes(obj[strings + name:end]).decode("ascii", "replace"))
    return names
