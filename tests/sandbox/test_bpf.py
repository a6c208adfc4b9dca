"""The classic BPF assembler behind the seccomp filter."""

from __future__ import annotations

import struct

import pytest

from guard.sandbox.bpf import MAX_INSTRUCTIONS, Program

_INSTRUCTION = struct.Struct("=HBBI")


def decode(program: Program) -> list[tuple[int, int, int, int]]:
    """Return the assembled program as (code, jt, jf, k) tuples."""
    code = program.assemble()
    return [_INSTRUCTION.unpack_from(code, offset) for offset in range(0, len(code), _INSTRUCTION.size)]


def test_jump_resolves_forward_label():
    program = Program()
    program.load_nr()
    program.jump_if_equal(59, "deny")
    program.ret(0x7FFF0000)
    program.label("deny")
    program.ret(0x00050001)

    instructions = decode(program)

    assert instructions[0] == (0x20, 0, 0, 0)
    assert instructions[1] == (0x15, 0, 1, 59)
    # The ja after the compare skips the allow return to reach the label.
    assert instructions[2] == (0x05, 0, 0, 1)
    assert instructions[4] == (0x06, 0, 0, 0x00050001)


def test_argument_loads_low_word():
    program = Program()
    program.load_arg_low(2)

    assert decode(program) == [(0x20, 0, 0, 16 + 2 * 8)]


def test_backward_jump_rejected():
    program = Program()
    program.label("start")
    program.jump("start")

    with pytest.raises(ValueError, match="backward jump"):
        program.assemble()


def test_undefined_label_rejected():
    program = Program()
    program.jump("nowhere")

    with pytest.raises(ValueError, match="undefined label"):
        program.assemble()


def test_oversized_program_rejected():
    program = Program()
    for _ in range(MAX_INSTRUCTIONS + 1):
        program.ret(0)

    with pytest.raises(ValueError, match="instructions"):
        program.assemble()
