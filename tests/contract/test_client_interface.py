"""``Client`` has the same interface as ``Registry``: every public method, same signature.

The behaviour is proven by the contract suite, which runs every ``registry`` test against
both; this test makes sure no method is missing from (or differs in) the client.
"""

from __future__ import annotations

import inspect

from modelyard import Client, Registry

#: Registry methods that only make sense next to the store, never over HTTP.
LOCAL_ONLY = {
    "open",  # opens the embedded store
    "acting_as",  # the server's per-request view; remote callers act through their token
    "authenticate",  # the server checks tokens; a client sends one
    "ensure_admin",  # first-start bootstrap, done by `modelyard server`
    "ensure_default_pipeline",  # first-start bootstrap (`modelyard init`, `server`)
    "delivery_queue",  # event workers run next to the store
    "run_engine",  # pipeline workers run next to the store
    "scan_queue",  # scan workers run next to the store
    "verify_blobs",  # store maintenance runs where the stores are (modelyard blobs …)
    "blob_store_info",
    "collect_garbage",
    "encrypt_blobs",
    "rotate_keys",
}


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


def test_client_has_every_registry_method() -> None:
    missing = set(public(Registry)) - set(public(Client)) - LOCAL_ONLY
    assert not missing, f"Client lacks: {sorted(missing)}"
    extra = set(public(Client)) - set(public(Registry))
    assert not extra, f"Client has methods Registry lacks: {sorted(extra)}"


def test_signatures_match() -> None:
    client = public(Client)
    for name, method in public(Registry).items():
        if name in LOCAL_ONLY or name in {"close"}:
            continue
        expected = inspect.signature(method)
        actual = inspect.signature(client[name])  # type: ignore[arg-type]
        assert list(actual.parameters) == list(expected.parameters), name
        for param in expected.parameters.values():
            other = actual.parameters[param.name]
            assert (other.kind, other.default) == (param.kind, param.default), (name, param.name)


def test_registry_api_lists_every_method_both_offer() -> None:
    """``RegistryAPI`` (mypy checks both classes against it) names exactly the methods that
    work the same locally and over HTTP."""
    from modelyard.interface import RegistryAPI

    protocol = {name for name in vars(RegistryAPI) if not name.startswith("_")}
    shared = set(public(Registry)) - LOCAL_ONLY
    assert protocol == shared
    assert protocol <= set(public(Client))
