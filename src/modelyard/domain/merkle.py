"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and proof verification.

This is a pure implementation of section 2.1 of RFC 9162 with SHA-256 as the hash:

- ``leaf_hash(d)`` is ``SHA-256(0x00 || d)`` and ``node_hash(l, r)`` is ``SHA-256(0x01 || l || r)``;
  the distinct prefixes keep leaves and interior nodes from being confused (second preimages).
- ``root`` is the Merkle Tree Hash ``MTH`` of a list of *already hashed* leaves. The tree is not
  necessarily balanced: ``MTH(D[n])`` splits ``D`` at ``k``, the largest power of two ``< n``. The
  root of the empty tree is ``SHA-256()`` (``e3b0c442...b855``).
- ``MerkleAccumulator`` keeps the roots of the perfect subtrees that make up a tree of ``size``
  leaves (one per set bit of ``size``, so O(log n) memory); it lets a verifier stream any number
  of leaves and take the root at whatever sizes it cares about.
- ``inclusion_proof`` / ``verify_inclusion`` are ``PATH`` (2.1.3.1) and the verification
  algorithm of 2.1.3.2; ``consistency_proof`` / ``verify_consistency`` are ``PROOF``/``SUBPROOF``
  (2.1.4.1) and the algorithm of 2.1.4.2.

Everything that takes or returns a "hash" (leaves given to ``root``, the proofs' ``leaf`` argument,
proof elements, roots) means a 32-byte SHA-256 value: hash raw entries with ``leaf_hash`` first.

Conventions beyond the RFC, chosen for the cases it leaves open:

- A consistency proof between equal sizes is empty; it verifies iff the two roots are equal.
- A consistency proof from size 0 is empty; it verifies iff ``old_root`` is the empty-tree root
  (any tree extends the empty tree, so ``new_root`` cannot be checked and is not).
- The generators raise ``ValueError`` for out-of-range indexes or sizes and for leaf hashes that
  are not 32 bytes; the verifiers never raise on bad input, they return ``False``.

Note that an inclusion proof does not, by itself, pin the tree size: the 2.1.3.2 algorithm only
follows the left/right pattern that ``(index, size)`` implies, so the same proof also verifies for
another size with the same pattern (e.g. index 0 in trees of 5 to 8 leaves). The size is bound by
the signed tree head that carries the root, not by the proof.

No recursion is used anywhere, so trees of millions of leaves are fine; ``root`` is O(n) time
and O(log n) extra memory, the proof generators O(n) time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash this module handles (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the tree with no leaves."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be a {HASH_SIZE}-byte hash, got {len(value)} bytes")


class MerkleAccumulator:
    """Appends leaf hashes one at a time and gives the tree root at the current size.

    It holds the roots of the perfect subtrees the tree decomposes into, largest (leftmost)
    first: one per set bit of ``size``. Appending merges equal-sized subtrees like a binary
    counter's carries, so each append is amortised O(1) hashes and memory is O(log n).
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf (already hashed with ``leaf_hash``) at index ``size``."""
        _check_hash(leaf_hash, "leaf_hash")
        current = leaf_hash
        carry = self._size
        while carry & 1:
            current = node_hash(self._stack.pop(), current)
            carry >>= 1
        self._stack.append(current)
        self._size += 1

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append several leaf hashes in order."""
        for value in leaf_hashes:
            self.append(value)

    def root(self) -> bytes:
        """MTH of the leaves appended so far (``EMPTY_ROOT`` if none)."""
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1]
        for subtree in reversed(self._stack[:-1]):
            acc = node_hash(subtree, acc)
        return acc


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) without copying the slice."""
    acc = MerkleAccumulator()
    for i in range(start, end):
        acc.append(leaf_hashes[i])
    return acc.root()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1 over already hashed leaves; ``EMPTY_ROOT`` for no leaves."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1: the audit path of leaf ``index``, leaf side first.

    Raises ``ValueError`` unless ``0 <= index < len(leaf_hashes)``.
    """
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is out of range for a tree of {size} leaves")
    # Walk down from the root, noting the sibling subtree at each split; PATH lists them
    # bottom-up, so the walk's order is reversed at the end.
    siblings: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split_point(end - start)
        if m < k:
            siblings.append(_range_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            siblings.append(_range_root(leaf_hashes, start, start + k))
            start += k
            m -= k
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 2.1.4.1: shows D[0:old_size] is a prefix of D[n].

    Empty when ``old_size`` is 0 or ``n`` (see the module docstring). Raises ``ValueError``
    unless ``0 <= old_size <= len(leaf_hashes)``.
    """
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is out of range for a tree of {size} leaves")
    if old_size in (0, size):
        return []
    # SUBPROOF(m, D[start:end], complete), unrolled: each split contributes one hash that
    # goes after the inner subproof, so collect outermost first and reverse at the end.
    outer: list[bytes] = []
    start, end, m, complete = 0, size, old_size, True
    while m != end - start:
        k = _split_point(end - start)
        if m <= k:
            outer.append(_range_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            outer.append(_range_root(leaf_hashes, start, start + k))
            start += k
            m -= k
            complete = False
    # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    proof = [] if complete else [_range_root(leaf_hashes, start, end)]
    proof.extend(reversed(outer))
    return proof


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn equally until LSB(fn) is set or fn is 0."""
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` show leaf hash ``leaf`` at ``index`` under ``root``?

    ``leaf`` is the leaf *hash* (``leaf_hash(entry)``). Returns ``False``, never raises, on
    malformed input (index out of range, hashes that are not 32 bytes).
    """
    if not 0 <= index < size or not _all_hashes(leaf, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree (new_size, new_root) an append-only extension of
    (old_size, old_root)?

    Equal sizes need an empty proof and equal roots; size 0 needs an empty proof and
    ``old_root == EMPTY_ROOT``. Returns ``False``, never raises, on malformed input.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not proof and old_root == new_root
    return _verify_consistency_path(old_size, new_size, old_root, new_root, proof)


def _verify_consistency_path(
    first: int, second: int, first_hash: bytes, second_hash: bytes, proof: Sequence[bytes]
) -> bool:
    """Steps 1-7 of RFC 9162 2.1.4.2, for 0 < first < second."""
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
