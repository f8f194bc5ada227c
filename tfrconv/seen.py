"""A set of 64-bit hashes that stays small: the duplicate-source-id check of a conversion.

A Python set of ints costs ~70 bytes per entry (the int object and the table slot); this open-
addressing table in an `array` costs 16 (8-byte slots, at most half full), so converting a
million images adds 16 MB rather than 70. Lookups are a few bytecodes per probe: the hashes
are already uniform (BLAKE2b), so the low bits index the table directly.
"""

from __future__ import annotations

from array import array


class SeenHashes:
    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(4, (capacity * 2 - 1).bit_length())
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0
        self._zero = False                         # 0 marks empty slots, so it is kept apart

    def add(self, digest: int) -> bool:
        """Record `digest` (a 64-bit int); False when it was there already."""
        if digest == 0:
            new, self._zero = not self._zero, True
            self._count += new
            return new
        table, mask = self._table, self._mask
        slot = digest & mask
        while True:
            held = table[slot]
            if held == 0:
                table[slot] = digest
                self._count += 1
                if self._count * 2 > mask:
                    self._grow()
                return True
            if held == digest:
                return False
            slot = (slot + 1) & mask

    def __contains__(self, digest: int) -> bool:
        if digest == 0:
            return self._zero
        table, mask = self._table, self._mask
        slot = digest & mask
        while True:
            held = table[slot]
            if held == 0:
                return False
            if held == digest:
                return True
            slot = (slot + 1) & mask

    def __len__(self) -> int:
        return self._count

    def _grow(self) -> None:
        old = self._table
        size = len(old) * 2
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        table, mask = self._table, self._mask
        for digest in old:
            if digest:
                slot = digest & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = digest
