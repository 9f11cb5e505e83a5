"""Registering and reading versions on every metadata backend."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelyard import (
    ConflictError,
    Dataset,
    Lineage,
    NotFoundError,
    Registry,
    ValidationError,
)
from tests.conftest import MakeArtifact, OpenRegistry

SHA = "sha256:" + "ab" * 32


def test_register_records_everything(registry: Registry, make_artifact: MakeArtifact) -> None:
    registry.create_group("fraud-detector")
    registry.register_version("fraud-detector", make_artifact({"p.bin": b"parent"}))
    art = make_artifact({"model.pkl": b"abc", "conf/config.json": b"{}"})
    version = registry.register_version(
        "fraud-detector",
        art,
        metrics={"auc": 0.912, "f1": "0.81"},
        params={"max_depth": 6},
        lineage=Lineage(
            datasets=(Dataset("train", "s3://bucket/train.parquet", SHA),),
            code_repo="https://git.example/fraud",
            code_commit="3f2c1e9",
            parents=("fraud-detector/1",),
            python_version="3.11.7",
            packages=("scikit-learn==1.5.2",),
        ),
        framework="sklearn==1.5.2",
        tags={"stage": "dev"},
        metadata={"owner": "risk"},
        description="weekly retrain",
        model_card="# Fraud\n",
    )
    assert version.reference == "fraud-detector/2"
    again = registry.get_version("fraud-detector/2")
    assert again == version
    assert again.metrics == {"auc": 0.912, "f1": 0.81}
    assert again.params == {"max_depth": "6"}
    assert again.lineage.datasets[0].digest == SHA
    assert again.lineage.parents == ("fraud-detector/1",)
    assert [f.path for f in again.manifest.files] == ["conf/config.json", "model.pkl"]
    assert again.manifest.files[1].sha256 == hashlib.sha256(b"abc").hexdigest()
    assert again.approval_status.value == "PendingManualApproval"
    assert again.created_by == "local"
    assert again.model_card == "# Fraud\n"


def test_identical_files_are_stored_once(
    registry: Registry, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    registry.create_group("a")
    registry.create_group("b")
    first = registry.upload_artifact(make_artifact({"w.bin": b"x" * 1000, "c.json": b"{}"}))
    assert first.new_blobs == 2
    second = registry.upload_artifact(make_artifact({"w.bin": b"x" * 1000, "other.json": b"{}"}))
    assert (second.new_blobs, second.new_bytes) == (0, 0)
    registry.register_version("a", first)
    registry.register_version("b", second)
    blob_files = [
        p for d in ("sha256", "enc") for p in (tmp_path / "blobs" / d).rglob("*") if p.is_file()
    ]
    assert len(blob_files) == 2


def test_manifest_digest_is_model_signing_files_serialization(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    files = {"a/b": b"1", "a-b/c": b"2", "z": b"3"}
    registry.create_group("g")
    version = registry.register_version("g", make_artifact(files))
    # model_signing sorts PurePosixPath keys (component-wise): a/b < a-b/c < z
    order = ["a/b", "a-b/c", "z"]
    expected = hashlib.sha256(b"".join(hashlib.sha256(files[p]).digest() for p in order))
    assert version.manifest_digest == "sha256:" + expected.hexdigest()
    assert [f.path for f in version.manifest.files] == order


def test_version_numbers_are_per_group(registry: Registry, make_artifact: MakeArtifact) -> None:
    registry.create_group("a")
    registry.create_group("b")
    refs = [registry.register_version(g, make_artifact()).reference for g in "aabab"]
    assert refs == ["a/1", "a/2", "b/1", "a/3", "b/2"]
    assert registry.get_group("a").latest_version == 3


def test_list_versions_newest_first_with_cursor(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    for _ in range(5):
        registry.register_version("g", make_artifact())
    page = registry.list_versions("g", limit=2)
    assert [v.number for v in page.items] == [5, 4]
    page = registry.list_versions("g", limit=2, cursor=page.next_cursor)
    assert [v.number for v in page.items] == [3, 2]
    page = registry.list_versions("g", limit=2, cursor=page.next_cursor)
    assert [v.number for v in page.items] == [1]
    assert page.next_cursor is None


def test_latest_resolves_to_the_highest_number(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    with pytest.raises(NotFoundError, match="no versions yet"):
        registry.get_version("g@latest")
    registry.register_version("g", make_artifact())
    registry.register_version("g", make_artifact())
    assert registry.get_version("g@latest").number == 2
    assert registry.get_version("models:/g/1").number == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"metrics": {"auc": "high"}}, "metrics.auc", "is not a number"),
        ({"metrics": {"auc": float("nan")}}, "metrics.auc", "finite"),
        ({"metrics": {"auc": True}}, "metrics.auc", "boolean"),
        ({"metrics": {"bad key!": 1}}, "metrics.bad key!", "not a valid key"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata", "at most 50"),
        ({"tags": {"t": "x" * 257}}, "tags.t", "longer than 256"),
        ({"lineage": Lineage(parents=("g@champion",))}, "lineage.parents[0]", "version number"),
        (
            {"lineage": Lineage(datasets=(Dataset("train", "s3://x", "sha256:zz"),))},
            "lineage.datasets[0].digest",
            "not a sha256",
        ),
        (
            {"lineage": Lineage(datasets=(Dataset("t", "a"), Dataset("t", "b")))},
            "lineage.datasets[1].role",
            "more than once",
        ),
    ],
)
def test_bad_registration_input_names_the_field_and_changes_nothing(
    registry: Registry,
    make_artifact: MakeArtifact,
    kwargs: dict[str, object],
    field: str,
    message: str,
    tmp_path: Path,
) -> None:
    registry.create_group("g")
    with pytest.raises(ValidationError, match=message) as info:
        registry.register_version("g", make_artifact({"m.bin": b"unique bytes"}), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert registry.list_versions("g").items == []
    assert not list((tmp_path / "blobs" / "sha256").rglob("*")), "nothing was uploaded"
    assert [e["type"] for e in registry.list_events(group="g")] == ["group.created"]


def test_unknown_group_or_parent_is_not_found(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    with pytest.raises(NotFoundError, match="group 'nope' does not exist"):
        registry.register_version("nope", make_artifact())
    registry.create_group("g")
    with pytest.raises(NotFoundError, match="g/7 does not exist") as info:
        registry.register_version("g", make_artifact(), lineage=Lineage(parents=("g/7",)))
    assert info.value.field == "lineage.parents[0]"
    assert registry.get_group("g").latest_version == 0


@pytest.mark.parametrize("ref", ["g/0", "g/x", "g", "g@Bad", "/1", "g/1/2"])
def test_malformed_references_are_validation_errors(registry: Registry, ref: str) -> None:
    with pytest.raises(ValidationError):
        registry.get_version(ref)


def test_unknown_version_and_alias_are_not_found(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    with pytest.raises(NotFoundError, match="g/2 does not exist"):
        registry.get_version("g/2")
    with pytest.raises(NotFoundError, match="alias g@prod does not exist"):
        registry.get_version("g@prod")
    with pytest.raises(NotFoundError, match="group 'h' does not exist"):
        registry.get_version("h@prod")


def test_tags_metadata_description_and_model_card_change(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(), tags={"a": "1"})
    assert registry.tag_version("g/1", {"b": "2"}).tags == {"a": "1", "b": "2"}
    assert registry.untag_version("g/1", ["a"]).tags == {"b": "2"}
    assert registry.set_metadata("g/1", {"k": "v", "j": "w"}).metadata == {"j": "w", "k": "v"}
    assert registry.set_metadata("g/1", {"x": "y"}, remove=["k"]).metadata == {"j": "w", "x": "y"}
    assert registry.remove_metadata("g/1", ["j"]).metadata == {"x": "y"}
    assert registry.update_description("g/1", "better").description == "better"
    assert registry.update_model_card("g/1", "# card").model_card == "# card"
    assert len(registry.list_events(type="version.updated")) == 5
    tagged = registry.list_events(type="version.tagged")
    assert len(tagged) == 2
    assert tagged[-1]["data"]["changes"] == {"tags": {"a": "1", "b": "2"}}
    assert tagged[-1]["data"]["previous"] == {"tags": {"a": "1"}}


def test_untag_of_a_missing_key_is_not_found_and_changes_nothing(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(), tags={"a": "1"})
    with pytest.raises(NotFoundError, match="no such key"):
        registry.untag_version("g/1", ["a", "zzz"])
    assert registry.get_version("g/1").tags == {"a": "1"}


def test_metadata_cap_counts_existing_pairs(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(), metadata={f"k{i}": "v" for i in range(50)})
    with pytest.raises(ValidationError, match="at most 50"):
        registry.set_metadata("g/1", {"one-more": "v"})
    assert len(registry.get_version("g/1").metadata) == 50


def test_reregistering_the_same_alias_target_is_a_conflict(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    registry.set_alias("g", "champion", 1)
    with pytest.raises(ConflictError, match="already points at version 1"):
        registry.set_alias("g", "champion", 1)


def test_missing_group_is_named_for_numbered_references(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="group 'nope' does not exist"):
        registry.get_version("nope/1")


def test_lineage_depth_is_checked(registry: Registry, make_artifact: MakeArtifact) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    with pytest.raises(ValidationError, match="depth: must be") as info:
        registry.lineage("g/1", depth=0)
    assert info.value.field == "depth"


def test_long_hyphenated_group_names_are_refused(registry: Registry) -> None:
    with pytest.raises(ValidationError, match="not a valid group name"):
        registry.create_group("a" + "-" * 70 + "b")


def test_registered_version_equals_its_reread_key_order_included(
    registry: Registry, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registered = registry.register_version(
        "g", make_artifact(), metrics={"z": 1, "a": 2}, tags={"y": "1", "b": "2"}
    )
    again = registry.get_version("g/1")
    assert list(registered.metrics) == list(again.metrics) == ["a", "z"]
    assert list(registered.tags) == list(again.tags) == ["b", "y"]
    assert registered.to_dict() == again.to_dict()


def test_what_a_change_returns_is_what_a_read_returns(
    registry: Registry, make_artifact: MakeArtifact, open_registry: OpenRegistry
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact(), tags={"b": "2"}, metadata={"y": "1"})
    assert registry.tag_version("g/1", {"a": "1"}) == registry.get_version("g/1")
    assert registry.untag_version("g/1", ["b"]) == registry.get_version("g/1")
    assert registry.set_metadata("g/1", {"x": "2"}, remove=["y"]) == registry.get_version("g/1")
    assert registry.update_description("g/1", "d") == registry.get_version("g/1")
    assert registry.update_model_card("g/1", "# card") == registry.get_version("g/1")
    approver = open_registry(actor="approver-1")
    assert approver.approve_version("g/1") == registry.get_version("g/1")
    assert approver.reject_version("g/1", comment="no") == registry.get_version("g/1")
