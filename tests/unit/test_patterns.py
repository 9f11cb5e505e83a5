"""EventBridge content-filter patterns: the reference vectors, edge cases and validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelyard.domain.patterns import Pattern, PatternError, compile_pattern
from modelyard.errors import ValidationError

E1: dict[str, Any] = json.loads(
    '{"version":"0","id":"ddddd4-aaaa-7777-4444-345dd43cc333",'
    '"detail-type":"EC2 Instance State-change Notification",'
    '"source":"aws.ec2","account":"012345679012","time":"2017-10-02T16:24:49Z",'
    '"region":"us-east-1",'
    '"resources":["arn:aws:ec2:us-east-1:012345679012:instance/i-000000aaaaaa00000"],'
    '"detail":{"c.count":5,"d.count":3,"x.limit":301.8,"source-ip":"10.0.0.33",'
    '"instance-id":"i-000000aaaaaa00000","state":"running"}}'
)
E2: dict[str, Any] = json.loads(
    '{"employees":[[{"firstName":"John","lastName":"Doe","ids":[1234,1000,9999]},'
    '{"firstName":"Anna","lastName":"Smith"}],'
    '[{"firstName":"Peter","lastName":"Jones","ids":[]}]]}'
)

P9 = (
    '{"a":[{"equals-ignore-case":"aBc"}],"b":[{"equals-ignore-case":"Def"}],'
    '"c":[{"equals-ignore-case":"xyZ"}]}'
)
P11 = (
    '{"a":[{"wildcard":"*bc"}],"b":[{"wildcard":"d*f"}],"c":[{"wildcard":"xy*"}],'
    '"d":[{"wildcard":"xy*"}]}'
)
P13 = (
    '{"a":[{"anything-but":["dad0","dad1","dad2"]}],"b":[{"anything-but":[111,222,333]}],'
    '"c":[{"anything-but":"zdd"}],"d":[{"anything-but":444}],"z":[{"numeric":[">",0,"<",1]}],'
    '"w":[{"anything-but":{"prefix":"zax"}}],"n":[{"anything-but":{"suffix":"ing"}}],'
    '"o":[{"anything-but":{"equals-ignore-case":"CamelCase"}}],'
    '"p":[{"anything-but":{"equals-ignore-case":["CamelCase","AbC"]}}]}'
)
E13: dict[str, Any] = {
    "a": "child1",
    "b": "444",
    "c": "child1",
    "d": 123,
    "w": "xaz",
    "z": 0.001,
    "n": "nomatch",
    "o": "nomatch",
    "p": "nomatch",
}

VECTORS: list[tuple[str, str, dict[str, Any], bool]] = [
    (
        "1",
        '{"detail-type":["EC2 Instance State-change Notification"],'
        '"resources":["arn:aws:ec2:us-east-1:012345679012:instance/i-000000aaaaaa00000"],'
        '"detail":{"state":["initializing","running"]}}',
        E1,
        True,
    ),
    (
        "2",
        '{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}]}}',
        E1,
        True,
    ),
    (
        "3",
        '{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}],"c.count":[{"numeric":[">",0,"<=",5]}],'
        '"d.count":[{"numeric":["<",10]}],"x.limit":[{"numeric":["=",3.018e2]}]}}',
        E1,
        True,
    ),
    ("4", '{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}', E1, True),
    ("5a", '{"detail":{"state":[{"prefix":{"equals-ignore-case":"RuNn"}}]}}', E1, True),
    ("5b", '{"detail":{"state":[{"suffix":{"equals-ignore-case":"nInG"}}]}}', E1, True),
    ("5c", '{"detail":{"state":[{"suffix":"ning"}]}}', E1, True),
    ("6a", '{"a":[{"exists":true}]}', {"a": 1}, True),
    ("6b", '{"b":[{"exists":false}]}', {"a": 1}, True),
    ("6c", '{"x":[{"exists":true}]}', {"a": 1}, False),
    ("7", '{"b":[{"exists":false}]}', {"b": 2}, False),
    ("8", '{"a":[1]}', {"x": True}, False),
    ("9", P9, {"a": "ABC", "b": "def", "c": "xYz", "d": "rst"}, True),
    ("10", P9, {"a": "ABC", "b": "defx", "c": "xYz", "d": "rst"}, False),
    ("11", P11, {"a": "abcbc", "b": "deeeef", "c": "xy", "d": "xyzzz"}, True),
    ("12", P11, {"a": "abcbc", "b": "deeeefx", "c": "xy", "d": "xyzzz"}, False),
    ("13", P13, E13, True),
    ("14-o", P13, {**E13, "o": "camelcase"}, False),
    ("14-p", P13, {**E13, "p": "abc"}, False),
    ("14-n", P13, {**E13, "n": "matching"}, False),
    ("14-w", P13, {**E13, "w": "zaxonie"}, False),
    ("14-z", P13, {**E13, "z": 1.01}, False),
    ("14-b", P13, {**E13, "b": 111}, False),
    ("14-a", P13, {**E13, "a": "dad1"}, False),
    ("15", '{"employees":{"firstName":["Anna"]}}', E2, True),
    ("16", '{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}', E2, False),
    ("17a", '{"employees":{"firstName":["Anna"],"ids":[{"exists":false}]}}', E2, True),
    ("17b", '{"employees":{"firstName":["John"],"ids":[1000]}}', E2, True),
    ("18a", '{"employees":{"firstName":["Anna"],"ids":[1000]}}', E2, False),
    ("18b", '{"employees":["b"]}', E2, False),
    ("19", '{"$or":[{"bar":["1"]},{"bar":["2"]}],"foo":["a"]}', {"bar": "2", "foo": "a"}, True),
    (
        "20",
        '{"Image":{"Thumbnail":{"Width":[{"numeric":[">=",100.00001,"<=",1001]}]}}}',
        {"Image": {"Thumbnail": {"Width": 100}}},
        False,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [case[1:] for case in VECTORS],
    ids=[f"vector-{case[0]}" for case in VECTORS],
)
def test_reference_vectors(pattern: str, event: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(pattern).matches(event) is expected
    assert compile_pattern(json.loads(pattern)).matches(event) is expected


OWN: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # literals: type and representation matter
    ("int-vs-float", {"a": [300]}, {"a": 300.0}, False),
    ("float-vs-int", {"a": [300.0]}, {"a": 300}, False),
    ("int-vs-int", {"a": [300]}, {"a": 300}, True),
    ("string-vs-number", {"a": ["1"]}, {"a": 1}, False),
    ("number-vs-string", {"a": [1]}, {"a": "1"}, False),
    ("true-vs-1", {"a": [True]}, {"a": 1}, False),
    ("1-vs-true", {"a": [1]}, {"a": True}, False),
    ("false-literal", {"a": [False]}, {"a": False}, True),
    ("null-vs-empty", {"a": [None]}, {"a": ""}, False),
    ("empty-vs-null", {"a": [""]}, {"a": None}, False),
    ("null-vs-null", {"a": [None]}, {"a": None}, True),
    ("null-vs-missing", {"a": [None]}, {}, False),
    ("case-sensitive", {"a": ["abc"]}, {"a": "ABC"}, False),
    ("literal-vs-object", {"a": ["x"]}, {"a": {"b": "x"}}, False),
    ("or-across-elements", {"a": ["x", {"prefix": "y"}]}, {"a": "yes"}, True),
    # event arrays
    ("leaf-array-intersects", {"a": ["x", "y"]}, {"a": ["q", "y"]}, True),
    ("leaf-array-disjoint", {"a": ["x"]}, {"a": ["q", "r"]}, False),
    ("nested-leaf-array", {"a": [3]}, {"a": [[1, 2], [3]]}, True),
    ("empty-array-exists-false", {"a": [{"exists": False}]}, {"a": []}, True),
    ("empty-array-exists-true", {"a": [{"exists": True}]}, {"a": []}, False),
    ("array-of-objects-exists-true", {"a": [{"exists": True}]}, {"a": [{"b": 1}]}, False),
    # exists
    ("exists-false-object", {"c-count": [{"exists": False}]}, {"c-count": {"c1": 100}}, True),
    ("exists-true-object", {"c-count": [{"exists": True}]}, {"c-count": {"c1": 100}}, False),
    ("exists-true-null", {"a": [{"exists": True}]}, {"a": None}, True),
    ("exists-false-parent-missing", {"a": {"b": [{"exists": False}]}}, {}, True),
    ("exists-false-parent-scalar", {"a": {"b": [{"exists": False}]}}, {"a": 5}, True),
    ("exists-false-in-element", {"a": {"b": [{"exists": False}]}}, {"a": [{"b": 1}, {}]}, True),
    ("exists-false-every-element", {"a": {"b": [{"exists": False}]}}, {"a": [{"b": 1}]}, False),
    # $or
    (
        "or-with-siblings-no",
        {"$or": [{"bar": ["1"]}, {"bar": ["2"]}], "foo": ["a"]},
        {"bar": "2", "foo": "b"},
        False,
    ),
    (
        "or-nested",
        {"$or": [{"a": ["1"]}, {"$or": [{"b": ["2"]}, {"c": [{"numeric": [">", 5]}]}]}]},
        {"c": 6},
        True,
    ),
    (
        "or-nested-no",
        {"$or": [{"a": ["1"]}, {"$or": [{"b": ["2"]}, {"c": [{"numeric": [">", 5]}]}]}]},
        {"c": 5},
        False,
    ),
    (
        "or-inside-object",
        {"detail": {"$or": [{"state": ["stopped"]}, {"c.count": [{"numeric": ["<", 10]}]}]}},
        E1,
        True,
    ),
    (
        "or-array-consistent",
        {"employees": {"$or": [{"lastName": ["Jones"]}, {"ids": [1000]}], "firstName": ["Anna"]}},
        E2,
        False,
    ),
    ("or-single-is-field", {"$or": [{"prefix": "x"}]}, {"$or": "xyz"}, True),
    ("or-single-literal-is-field", {"$or": ["x"]}, {"$or": "x"}, True),
    ("or-reserved-is-field", {"$or": [{"prefix": "a"}, {"prefix": "b"}]}, {"$or": "bc"}, True),
    ("or-object-is-field", {"$or": {"x": ["1"]}}, {"$or": {"x": "1"}}, True),
    # cidr
    ("cidr-v6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:0:1::7"}, True),
    ("cidr-v6-outside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    ("cidr-v4-outside", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.1"}, False),
    ("cidr-v4-in-v6-net", {"ip": [{"cidr": "::/0"}]}, {"ip": "10.0.0.1"}, False),
    ("cidr-not-an-ip", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "ten"}, False),
    ("cidr-number", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": 10}, False),
    # numeric only on numbers
    ("numeric-string", {"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False),
    ("numeric-bool", {"n": [{"numeric": [">", 0]}]}, {"n": True}, False),
    ("numeric-null", {"n": [{"numeric": [">", 0]}]}, {"n": None}, False),
    ("numeric-nan", {"n": [{"numeric": [">", 0]}]}, {"n": float("nan")}, False),
    ("numeric-int-vs-float", {"n": [{"numeric": ["=", 300]}]}, {"n": 300.0}, True),
    ("numeric-exclusive", {"n": [{"numeric": [">", 0, "<", 1]}]}, {"n": 1}, False),
    ("numeric-reversed-order", {"n": [{"numeric": ["<=", 5, ">", 0]}]}, {"n": 5}, True),
    ("numeric-huge-int", {"n": [{"numeric": [">", 1e9]}]}, {"n": 10**400}, True),
    ("numeric-array", {"n": [{"numeric": [">", 10]}]}, {"n": [1, 20]}, True),
    # string matchers on other types
    ("prefix-number", {"a": [{"prefix": "1"}]}, {"a": 12}, False),
    ("ignore-case-null", {"a": [{"equals-ignore-case": "null"}]}, {"a": None}, False),
    # wildcard escapes
    ("wildcard-literal-star", {"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),
    ("wildcard-literal-star-no", {"a": [{"wildcard": "a\\*b"}]}, {"a": "axb"}, False),
    ("wildcard-backslash", {"a": [{"wildcard": "a\\\\*"}]}, {"a": "a\\zz"}, True),
    ("wildcard-backslash-no", {"a": [{"wildcard": "a\\\\*"}]}, {"a": "azz"}, False),
    ("wildcard-escaped-then-star", {"a": [{"wildcard": "\\**"}]}, {"a": "*x"}, True),
    ("wildcard-regex-chars", {"a": [{"wildcard": "a.c*"}]}, {"a": "abc"}, False),
    ("wildcard-newline", {"a": [{"wildcard": "a*c"}]}, {"a": "a\nc"}, True),
    ("wildcard-no-star", {"a": [{"wildcard": "abc"}]}, {"a": "abcd"}, False),
    # anything-but
    ("anything-but-missing", {"a": [{"anything-but": "x"}]}, {}, False),
    ("anything-but-object", {"a": [{"anything-but": "x"}]}, {"a": {"b": 1}}, False),
    ("anything-but-null-passes", {"a": [{"anything-but": "x"}]}, {"a": None}, True),
    ("anything-but-number-numeric", {"a": [{"anything-but": 111}]}, {"a": 111.0}, False),
    ("anything-but-string-vs-number", {"a": [{"anything-but": "1"}]}, {"a": 1}, True),
    ("anything-but-wildcard", {"a": [{"anything-but": {"wildcard": "x*z"}}]}, {"a": "xyz"}, False),
    (
        "anything-but-suffix-list",
        {"a": [{"anything-but": {"suffix": ["a", "b"]}}]},
        {"a": "c"},
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [case[1:] for case in OWN],
    ids=[case[0] for case in OWN],
)
def test_own_cases(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(pattern).matches(event) is expected


INVALID: list[tuple[str, Any, str, str]] = [
    ("not-an-object", "[1]", "pattern", "JSON object"),
    ("bad-json", '{"a": [', "pattern", "not valid JSON"),
    ("nan-json", '{"a": [NaN]}', "pattern", "NaN"),
    ("empty-pattern", {}, "pattern", "must not be empty"),
    ("empty-object", {"a": {}}, "pattern.a", "must not be empty"),
    ("non-array-leaf", {"detail": {"state": "running"}}, "pattern.detail.state", "array"),
    ("number-leaf", {"a": 5}, "pattern.a", "array"),
    ("empty-array", {"a": []}, "pattern.a", "non-empty"),
    ("nested-array", {"a": [["x"]]}, "pattern.a[0]", "neither a literal nor a matcher"),
    ("unknown-matcher", {"a": ["x", {"regex": "x"}]}, "pattern.a[1]", "unknown matcher 'regex'"),
    ("reserved-exactly", {"a": [{"exactly": "x"}]}, "pattern.a[0]", "unknown matcher"),
    ("two-keys", {"a": [{"prefix": "x", "suffix": "y"}]}, "pattern.a[0]", "exactly one key"),
    ("numeric-not-number", {"a": [{"numeric": [">", "x"]}]}, "pattern.a[0]", "not a finite"),
    ("numeric-bool", {"a": [{"numeric": [">", True]}]}, "pattern.a[0]", "not a finite"),
    ("numeric-bad-op", {"a": [{"numeric": ["!=", 1]}]}, "pattern.a[0]", "operator"),
    ("numeric-odd", {"a": [{"numeric": [">", 1, "<"]}]}, "pattern.a[0]", "[op, n]"),
    ("numeric-two-lower", {"a": [{"numeric": [">", 5, ">", 6]}]}, "pattern.a[0]", "lower"),
    ("numeric-two-upper", {"a": [{"numeric": ["<", 5, "<=", 6]}]}, "pattern.a[0]", "lower"),
    ("numeric-eq-in-range", {"a": [{"numeric": ["=", 5, "<", 6]}]}, "pattern.a[0]", "lower"),
    ("numeric-empty-range", {"a": [{"numeric": [">", 6, "<", 5]}]}, "pattern.a[0]", "empty"),
    ("numeric-point-open", {"a": [{"numeric": [">", 5, "<=", 5]}]}, "pattern.a[0]", "empty"),
    ("numeric-inf", {"a": [{"numeric": [">", float("inf")]}]}, "pattern.a[0]", "finite"),
    ("cidr-bad", {"ip": [{"cidr": "10.0.0.300/24"}]}, "pattern.ip[0]", "cidr"),
    ("cidr-bad-prefix", {"ip": [{"cidr": "10.0.0.0/33"}]}, "pattern.ip[0]", "cidr"),
    ("cidr-number", {"ip": [{"cidr": 10}]}, "pattern.ip[0]", "cidr takes a string"),
    (
        "wildcard-stars",
        {"detail": {"state": [{"wildcard": "a**b"}]}},
        "pattern.detail.state[0]",
        "wildcard 'a**b' has consecutive '*'",
    ),
    ("wildcard-bad-escape", {"a": [{"wildcard": "a\\nb"}]}, "pattern.a[0]", "invalid escape"),
    ("wildcard-trailing-escape", {"a": [{"wildcard": "ab\\"}]}, "pattern.a[0]", "invalid escape"),
    (
        "anything-but-wildcard-stars",
        {"a": [{"anything-but": {"wildcard": ["x", "y**"]}}]},
        "pattern.a[0]",
        "consecutive",
    ),
    ("anything-but-mixed", {"a": [{"anything-but": ["x", 1]}]}, "pattern.a[0]", "only strings"),
    ("anything-but-empty", {"a": [{"anything-but": []}]}, "pattern.a[0]", "non-empty"),
    ("anything-but-null", {"a": [{"anything-but": None}]}, "pattern.a[0]", "null"),
    ("anything-but-bool", {"a": [{"anything-but": True}]}, "pattern.a[0]", "boolean"),
    ("anything-but-numeric", {"a": [{"anything-but": {"numeric": [">", 1]}}]}, "pattern.a[0]", ""),
    ("anything-but-prefix-num", {"a": [{"anything-but": {"prefix": 1}}]}, "pattern.a[0]", ""),
    ("exists-string", {"a": [{"exists": "true"}]}, "pattern.a[0]", "true or false"),
    ("prefix-number", {"a": [{"prefix": 1}]}, "pattern.a[0]", "prefix"),
    ("prefix-bad-object", {"a": [{"prefix": {"wildcard": "x"}}]}, "pattern.a[0]", "prefix"),
    ("ignore-case-list", {"a": [{"equals-ignore-case": ["x"]}]}, "pattern.a[0]", "string"),
    ("or-bad-sub", {"$or": [{"a": ["1"]}, {"b": "2"}]}, "pattern.$or[1].b", "array"),
    ("or-single-unknown", {"$or": [{"bar": ["1"]}]}, "pattern.$or[0]", "unknown matcher 'bar'"),
    ("literal-nan", {"a": [float("nan")]}, "pattern.a[0]", "finite"),
    ("quoted-key", {"a.b": {"c d": 1}}, 'pattern["a.b"]["c d"]', "array"),
]


@pytest.mark.parametrize(
    ("pattern", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_patterns(pattern: Any, field: str, message: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValidationError)
    assert info.value.to_dict()["code"] == "validation_error"


def test_error_message_example() -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern({"detail": {"state": [{"wildcard": "a**b"}]}})
    assert str(info.value) == "pattern.detail.state[0]: wildcard 'a**b' has consecutive '*'"


def test_exact_fields() -> None:
    pattern = compile_pattern(
        {
            "source": ["aws.ec2", "aws.s3"],
            "detail": {
                "state": ["running"],
                "mixed": ["x", 1],
                "prefixed": [{"prefix": "x"}],
                "nullable": ["x", None],
                "deep": {"inner": ["y"]},
            },
            "$or": [{"region": ["eu"]}, {"region": ["us"]}],
        }
    )
    assert pattern.exact_fields() == {
        ("source",): frozenset({"aws.ec2", "aws.s3"}),
        ("detail", "state"): frozenset({"running"}),
        ("detail", "deep", "inner"): frozenset({"y"}),
    }


def test_pattern_is_immutable_and_canonical() -> None:
    source = {"b": ["1"], "a": [{"numeric": [">", 0]}]}
    pattern = compile_pattern(source)
    assert isinstance(pattern, Pattern)
    assert pattern.source == '{"a":[{"numeric":[">",0]}],"b":["1"]}'
    with pytest.raises(AttributeError):
        pattern.source = "{}"  # type: ignore[misc]
    source["b"] = ["2"]
    assert pattern.matches({"a": 1, "b": "1"})
    assert compile_pattern(pattern.source) == pattern


def test_non_object_event_does_not_match() -> None:
    assert not compile_pattern({"a": [{"exists": False}]}).matches([])  # type: ignore[arg-type]
