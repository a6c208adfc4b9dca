"""A small assembler for classic BPF programs, the format seccomp filters use.

Conditional jumps in classic BPF reach at most 255 instructions ahead, so every
conditional jump to a label is emitted as a short conditional skip over an
unconditional jump (`ja`), whose offset is 32 bits. Labels are resolved when the
program is assembled.
"""

from __future__ import annotations

import struct

from guard.fastclass import dataclass

_LD_W_ABS = 0x20
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGE_K = 0x35
_JMP_JSET_K = 0x45
_RET_K = 0x06

# Offsets in struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARGS = 16
MAX_INSTRUCTIONS = 4096

_INSTRUCTION = struct.Struct("=HBBI")


@dataclass(slots=True)
class _Instruction:
    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0
    target: str | None = None


class Program:
    """A seccomp filter under construction."""

    def __init__(self) -> None:
        self._instructions: list[_Instruction] = []
        self._labels: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._instructions)

    def label(self, name: str) -> None:
        """Mark the next instruction as the target `name`."""
        if name in self._labels:
            raise ValueError(f"label {name!r} is defined twice")
        self._labels[name] = len(self._instructions)

    def load_nr(self) -> None:
        """Load the system call number."""
        self._instructions.append(_Instruction(_LD_W_ABS, k=_OFFSET_NR))

    def load_arch(self) -> None:
        """Load the audit architecture of the call."""
        self._instructions.append(_Instruction(_LD_W_ABS, k=_OFFSET_ARCH))

    def load_arg_low(self, index: int) -> None:
        """Load the low 32 bits of argument `index` (the architectures supported are little-endian)."""
        self._instructions.append(_Instruction(_LD_W_ABS, k=_OFFSET_ARGS + 8 * index))

    def jump_if_equal(self, value: int, target: str) -> None:
        """Jump to `target` when the loaded word equals `value`."""
        self._instructions.append(_Instruction(_JMP_JEQ_K, jt=0, jf=1, k=value))
        self.jump(target)

    def jump_if_at_least(self, value: int, target: str) -> None:
        """Jump to `target` when the loaded word is `value` or more (unsigned)."""
        self._instructions.append(_Instruction(_JMP_JGE_K, jt=0, jf=1, k=value))
        self.jump(target)

    def jump_if_any_bit(self, mask: int, target: str) -> None:
        """Jump to `target` when the loaded word has any bit of `mask` set."""
        self._instructions.append(_Instruction(_JMP_JSET_K, jt=0, jf=1, k=mask))
        self.jump(target)

    def return_if_equal(self, value: int, action: int) -> None:
        """Return `action` when the loaded word equals `value`."""
        self._instructions.append(_Instruction(_JMP_JEQ_K, jt=0, jf=1, k=value))
        self.ret(action)

    def return_if_any_bit(self, mask: int, action: int) -> None:
        """Return `action` when the loaded word has any bit of `mask` set."""
        self._instructions.append(_Instruction(_JMP_JSET_K, jt=0, jf=1, k=mask))
        self.ret(action)

    def jump(self, target: str) -> None:
        """Jump to `target` unconditionally."""
        self._instructions.append(_Instruction(_JMP_JA, target=target))

    def ret(self, action: int) -> None:
        """Return `action` (a SECCOMP_RET_* value) for the call."""
        self._instructions.append(_Instruction(_RET_K, k=action))

    def assemble(self) -> bytes:
        """Return the program as an array of struct sock_filter, with labels resolved."""
        if len(self._instructions) > MAX_INSTRUCTIONS:
            raise ValueError(f"the filter has {len(self._instructions)} instructions, over {MAX_INSTRUCTIONS}")
        data = bytearray()
        for index, instruction in enumerate(self._instructions):
            k = instruction.k
            if instruction.target is not None:
                if instruction.target not in self._labels:
                    raise ValueError(f"jump to undefined label {instruction.target!r}")
                k = self._labels[instruction.target] - (index + 1)
                if k < 0:
                    raise ValueError(f"backward jump to {instruction.target!r}; BPF jumps only forward")
            data += _INSTRUCTION.pack(instruction.code, instruction.jt, instruction.jf, k)
        return bytes(data)
