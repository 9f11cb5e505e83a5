"""RFC 9162 Merkle tree: known answers from Certificate Transparency, then exhaustive properties."""

from __future__ import annotations

import hashlib

import pytest

from modelyard.domain.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The leaves and tree heads of Certificate Transparency's reference merkle_tree_test.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]

# Proof vectors of the same reference suite: (0-based index or old size, tree size, proof).
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

MAX_SIZE = 64
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]
ROOTS = [root(LEAVES[:n]) for n in range(MAX_SIZE + 1)]
OTHER = hashlib.sha256(b"something else").digest()


def flip(value: bytes, byte: int = 0) -> bytes:
    return value[:byte] + bytes([value[byte] ^ 0x08]) + value[byte + 1 :]


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH written straight from the RFC's recursive definition (small trees only)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def path_shape(index: int, size: int) -> list[bool]:
    """For each PATH element, leaf side first: is the sibling on the left?"""
    shape: list[bool] = []
    while size > 1:
        k = 1
        while k * 2 < size:
            k *= 2
        if index < k:
            shape.append(False)
            size = k
        else:
            shape.append(True)
            index, size = index - k, size - k
    return shape[::-1]


# --- hashing and known answers -------------------------------------------------------------


def test_hash_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


def test_empty_root() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]).hex() == expected
    assert EMPTY_ROOT.hex() == expected
    assert MerkleAccumulator().root().hex() == expected


def test_two_leaf_root_by_hand() -> None:
    left = hashlib.sha256(b"\x00").digest()  # leaf ""
    right = hashlib.sha256(b"\x00\x00").digest()  # leaf "00"
    assert left.hex() == CT_ROOTS[1]
    assert hashlib.sha256(b"\x01" + left + right).hexdigest() == CT_ROOTS[2]


@pytest.mark.parametrize("size", sorted(CT_ROOTS))
def test_ct_reference_roots(size: int) -> None:
    assert root(CT_HASHES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_ct_reference_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(index, CT_HASHES[:size])
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(index, size, CT_HASHES[index], proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_ct_reference_consistency_proofs(old: int, new: int, expected: list[str]) -> None:
    proof = consistency_proof(old, CT_HASHES[:new])
    assert [p.hex() for p in proof] == expected
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, proof)


# --- roots ---------------------------------------------------------------------------------


def test_root_matches_recursive_definition() -> None:
    for n in range(MAX_SIZE + 1):
        assert ROOTS[n] == reference_mth(LEAVES[:n]), n


def test_accumulator_matches_root_at_every_size() -> None:
    acc = MerkleAccumulator()
    assert acc.size == 0
    for n, value in enumerate(LEAVES, start=1):
        acc.append(value)
        assert acc.size == n
        assert acc.root() == ROOTS[n], n


def test_accumulator_extend_and_bad_leaf() -> None:
    acc = MerkleAccumulator()
    acc.extend(LEAVES[:13])
    assert (acc.size, acc.root()) == (13, ROOTS[13])
    with pytest.raises(ValueError, match="32-byte"):
        acc.append(b"raw entry, not a hash")
    assert acc.size == 13


def test_large_tree_has_no_recursion_limit() -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(100_000)]
    expected = root(leaves)
    acc = MerkleAccumulator()
    acc.extend(leaves)
    assert acc.root() == expected
    proof = inclusion_proof(77_777, leaves)
    assert len(proof) == 17
    assert verify_inclusion(77_777, 100_000, leaves[77_777], proof, expected)
    cproof = consistency_proof(65_537, leaves)
    assert verify_consistency(65_537, 100_000, root(leaves[:65_537]), expected, cproof)


# --- inclusion proofs ----------------------------------------------------------------------


def inclusion_cases() -> list[tuple[int, int]]:
    return [(index, size) for size in range(1, MAX_SIZE + 1) for index in range(size)]


def test_every_inclusion_proof_verifies_and_resists_tampering() -> None:
    for index, size in inclusion_cases():
        leaves, tree_root, leaf = LEAVES[:size], ROOTS[size], LEAVES[index]
        proof = inclusion_proof(index, leaves)
        assert len(proof) == len(path_shape(index, size))
        assert verify_inclusion(index, size, leaf, proof, tree_root), (index, size)

        assert not verify_inclusion(index, size, OTHER, proof, tree_root)
        assert not verify_inclusion(index, size, leaf, proof, OTHER)
        assert not verify_inclusion(index, size, leaf, [*proof, OTHER], tree_root)
        assert not verify_inclusion(index, size, leaf, [*proof, tree_root], tree_root)
        assert not verify_inclusion(index, size, leaf, [OTHER, *proof], tree_root)
        for wrong_index in range(size + 2):
            if wrong_index != index:
                assert not verify_inclusion(wrong_index, size, leaf, proof, tree_root)
        for i in range(len(proof)):
            for byte in (0, 31):
                bad = [*proof[:i], flip(proof[i], byte), *proof[i + 1 :]]
                assert not verify_inclusion(index, size, leaf, bad, tree_root), (index, size, i)
            assert not verify_inclusion(index, size, leaf, proof[:i] + proof[i + 1 :], tree_root)
        if proof:
            assert not verify_inclusion(index, size, leaf, proof[:-1], tree_root)


def test_wrong_size_fails_unless_the_path_shape_is_identical() -> None:
    # The 2.1.3.2 algorithm only follows the left/right pattern (index, size) implies, so a
    # proof also "verifies" for another size with exactly the same pattern (e.g. index 0 in
    # trees of 5..8 leaves); every other size must be rejected.
    accepted_elsewhere = 0
    for index, size in inclusion_cases():
        proof = inclusion_proof(index, LEAVES[:size])
        for other in range(MAX_SIZE + 2):
            if other == size:
                continue
            same_shape = index < other and path_shape(index, other) == path_shape(index, size)
            got = verify_inclusion(index, other, LEAVES[index], proof, ROOTS[size])
            assert got == same_shape, (index, size, other)
            accepted_elsewhere += same_shape
    assert accepted_elsewhere > 0
    assert not verify_inclusion(0, 8, CT_HASHES[0], inclusion_proof(0, CT_HASHES[:5]), OTHER)
    assert verify_inclusion(
        0, 8, CT_HASHES[0], inclusion_proof(0, CT_HASHES[:5]), root(CT_HASHES[:5])
    )
    for index, size in inclusion_cases():
        proof = inclusion_proof(index, LEAVES[:size])
        for other in (size * 2, size // 2):
            assert not verify_inclusion(index, other, LEAVES[index], proof, ROOTS[size])


def test_verify_inclusion_rejects_malformed_input() -> None:
    leaf = LEAVES[0]
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 0, leaf, [], EMPTY_ROOT)
    assert not verify_inclusion(-1, 1, leaf, [], leaf)
    assert not verify_inclusion(1, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 1, b"", [], b"")
    assert not verify_inclusion(0, 1, leaf[:31], [], leaf[:31])
    proof = inclusion_proof(0, LEAVES[:2])
    assert not verify_inclusion(0, 2, leaf, [proof[0][:31]], ROOTS[2])
    assert not verify_inclusion(0, 2, leaf, [b""], ROOTS[2])


def test_inclusion_proof_rejects_out_of_range_index() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(0, [])
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(3, LEAVES[:3])
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(-1, LEAVES[:3])


# --- consistency proofs --------------------------------------------------------------------


def test_every_consistency_proof_verifies_and_resists_tampering() -> None:
    for new in range(1, MAX_SIZE + 1):
        for old in range(1, new):
            old_root, new_root = ROOTS[old], ROOTS[new]
            proof = consistency_proof(old, LEAVES[:new])
            assert proof
            assert verify_consistency(old, new, old_root, new_root, proof), (old, new)

            assert not verify_consistency(old, new, flip(old_root), new_root, proof)
            assert not verify_consistency(old, new, old_root, flip(new_root), proof)
            assert not verify_consistency(old, new, new_root, old_root, proof)
            assert not verify_consistency(old, new, old_root, new_root, [])
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            assert not verify_consistency(old, new, old_root, new_root, [*proof, OTHER])
            assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
            assert not verify_consistency(old, new, old_root, new_root, [OTHER, *proof])
            assert not verify_consistency(old, new, old_root, new_root, [proof[0], *proof])
            for i in range(len(proof)):
                bad = [*proof[:i], flip(proof[i], 31), *proof[i + 1 :]]
                assert not verify_consistency(old, new, old_root, new_root, bad), (old, new, i)
            for wrong_old in (old - 1, old + 1, old ^ 2):
                if wrong_old > 0 and wrong_old != old:
                    assert not verify_consistency(wrong_old, new, old_root, new_root, proof)
            # Like inclusion proofs, a consistency proof does not pin new_size by itself
            # (1 -> 3 and 1 -> 4 share a shape), so only sizes of another height are probed.
            for wrong_new in (new * 2, new // 2):
                assert not verify_consistency(old, wrong_new, old_root, new_root, proof)


def test_consistency_with_equal_sizes() -> None:
    for n in range(1, MAX_SIZE + 1):
        assert consistency_proof(n, LEAVES[:n]) == []
        assert verify_consistency(n, n, ROOTS[n], ROOTS[n], [])
        assert not verify_consistency(n, n, ROOTS[n], flip(ROOTS[n]), [])
        assert not verify_consistency(n, n, ROOTS[n], ROOTS[n], [ROOTS[n]])


def test_consistency_from_the_empty_tree() -> None:
    assert consistency_proof(0, []) == []
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, OTHER, [])
    for n in range(1, MAX_SIZE + 1):
        assert consistency_proof(0, LEAVES[:n]) == []
        assert verify_consistency(0, n, EMPTY_ROOT, ROOTS[n], [])
        assert not verify_consistency(0, n, OTHER, ROOTS[n], [])
        assert not verify_consistency(0, n, EMPTY_ROOT, ROOTS[n], [ROOTS[n]])


def test_verify_consistency_rejects_malformed_input() -> None:
    proof = consistency_proof(3, LEAVES[:7])
    assert verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof)
    assert not verify_consistency(7, 3, ROOTS[7], ROOTS[3], proof)
    assert not verify_consistency(-1, 7, ROOTS[3], ROOTS[7], proof)
    assert not verify_consistency(3, 7, ROOTS[3][:31], ROOTS[7], proof)
    assert not verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*proof[:-1], proof[-1][:31]])
    assert not verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*proof, b""])


def test_consistency_proof_rejects_out_of_range_sizes() -> None:
    with pytest.raises(ValueError, match="out of range"):
        consistency_proof(4, LEAVES[:3])
    with pytest.raises(ValueError, match="out of range"):
        consistency_proof(-1, LEAVES[:3])
    with pytest.raises(ValueError, match="out of range"):
        consistency_proof(1, [])
