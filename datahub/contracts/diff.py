"""Breaking-change detection between two versions of a data contract (raw ODCS v3 documents).

A department revising its contract can break every system that consumes its dataset, so each change is
judged from the consumer's side: it is *breaking* when data valid under the new version can break a
consumer written against the old one (a column gone, a type or key changed, values the old version
excluded, less access), and *tightening* when it only makes stricter what the department must deliver.
A change that no rule classifies counts as breaking (``unclassified_change``), so that a data steward
looks at it instead of it passing as harmless. ``RULES`` holds the verdict of every kind of change;
docs/contracts.md ("Breaking changes") explains them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple

from datahub.contracts.model import (
    LOGICAL_TO_ELEMENT,
    Delivery,
    Desensitise,
    SharingClass,
    canonical_custom,
)
from datahub.contracts.sla import sla_duration
from datahub.dictionary import ElementType

Doc = Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a contract, with its verdict for consumers."""

    path: str
    kind: str
    old: Any
    new: Any
    breaking: bool
    tightening: bool
    reason: str


@dataclass(frozen=True)
class ContractDiff:
    """Every change between two versions of a contract, in document order."""

    changes: list[Change]

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for CI gates and review tools."""
        return {"breaking": self.breaking, "changes": [asdict(c) for c in self.changes]}


class Rule(NamedTuple):
    """The verdict for one kind of change, and why, in one sentence a consumer can read."""

    breaking: bool
    tightening: bool
    reason: str


# Breaking: a consumer relying on the old version can be broken by data valid under the new one.
_BREAKING = {
    "api_version_major_changed": "A new major ODCS version may change the meaning of fields consumers read.",
    "unclassified_change": "No rule classifies this change, so it is breaking until a steward reviews it.",
    "sharing_restricted": "A less shareable class can withdraw access that consumers had before.",
    "channel_changed": "Consumers selecting this dataset's events by their channel code no longer find them.",
    "delivery_changed": "Readers of the delivered files meet another format, encoding, sheet or publishMode.",
    "server_removed": "Consumers reading from this server no longer find the data there.",
    "server_changed": "Consumers connecting with the old server details no longer reach the data.",
    "sla_removed": "Consumers lose a service level they may have planned for.",
    "sla_degraded": "Staler delivery or shorter retention promises consumers less than they planned for.",
    "sla_changed": "The service level changed in a way that cannot be compared, so consumers may get less.",
    "object_removed": "Consumers of this dataset find it gone.",
    "object_renamed": "Consumers addressing the dataset by its old name find it gone.",
    "physical_name_changed": "Consumers reading the table or column by its old physical name find it gone.",
    "physical_type_changed": "Consumers read the data with the old physical type.",
    "primary_key_changed": "Consumers joining or de-duplicating on the old key get a different row identity.",
    "column_removed": "Consumers reading this column find it gone.",
    "column_renamed": "Consumers reading the column under its old name find it gone.",
    "type_changed": "Consumers parse and compute with the old logical type.",
    "required_relaxed": "Consumers may now receive nulls in a column that never had them.",
    "unique_relaxed": "Consumers relying on distinct values may now receive duplicates.",
    "range_widened": "Values outside the old range are now valid, and consumers may not handle them.",
    "length_widened": "Lengths or counts outside the old bounds are now valid; consumers may fail on them.",
    "pattern_changed": "A different or removed pattern may admit values the old one excluded.",
    "format_changed": "Consumers parse the values in the old format.",
    "enum_widened": "Consumers may receive values the old enumeration excluded.",
    "unit_changed": "The same number now means a different quantity to consumers.",
    "timezone_changed": "The same timestamp now means a different instant to consumers.",
    "dictionary_element_changed": "Another data element brings another type, code table and meaning.",
    "crosswalk_changed": "Local codes are mapped differently, so consumers may receive other unified codes.",
    "classification_raised": "A stricter classification can withdraw access that consumers had.",
    "classification_changed": "The classifications cannot be ordered, so consumers may lose access.",
    "desensitise_strengthened": "Consumers lose values, or parts of values, they saw before.",
}
# Tightening: not breaking; only what the department must deliver gets stricter.
_TIGHTENING = {
    "sharing_widened": "A more shareable class only lets more consumers use the data.",
    "sla_added": "A new service level only promises consumers more.",
    "sla_improved": "Fresher delivery or longer retention only promises consumers more than before.",
    "required_column_added": "Consumers may ignore the new column; only the department must deliver it.",
    "required_added": "Consumers only receive fewer nulls than before.",
    "unique_added": "Consumers only receive fewer duplicates than before.",
    "range_narrowed": "Every value valid under the new range was valid under the old one.",
    "length_narrowed": "Every length valid under the new bounds was valid under the old ones.",
    "pattern_added": "A new pattern only excludes values that were valid before.",
    "enum_narrowed": "Every value allowed now was allowed before.",
    "classification_lowered": "A lower classification only widens who may use the column.",
    "quality_rule_added": "A new rule only checks the department's delivery more.",
    "quality_rule_stricter": "A stricter rule only checks the department's delivery more.",
    "relationship_added": "A new relationship only constrains what the department delivers.",
}
# Neither: reported for review, harmless to consumers.
_NEUTRAL = {
    "version_changed": "The version number labels the contract and changes no data.",
    "api_version_changed": "A minor or patch revision of ODCS keeps the meaning of fields consumers read.",
    "metadata_changed": "Documentation, ownership and catalogue fields change no data consumers receive.",
    "server_added": "A new server is one more place to read from; existing consumers are unaffected.",
    "object_added": "A new dataset is additive: no existing consumer reads it.",
    "column_added": "A new optional column is additive: consumers may ignore it.",
    "desensitise_weakened": "Consumers see more of each value than before.",
    "quality_rule_changed": "The rule checks the delivery differently but changes nothing consumers read.",
    "quality_rule_removed": "One check fewer on the delivery changes nothing consumers read.",
    "relationship_changed": "A changed relationship documents a reference differently but changes no column.",
    "relationship_removed": "One documented reference fewer changes no column.",
}
RULES: dict[str, Rule] = {
    **{kind: Rule(True, False, reason) for kind, reason in _BREAKING.items()},
    **{kind: Rule(False, True, reason) for kind, reason in _TIGHTENING.items()},
    **{kind: Rule(False, False, reason) for kind, reason in _NEUTRAL.items()},
}


def _make(kind: str, path: str, old: Any, new: Any) -> Change:
    rule = RULES[kind]
    return Change(path, kind, old, new, rule.breaking, rule.tightening, rule.reason)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class _At:
    """Where an element sits: nested properties extend the dotted name, ``schema[t].properties[a.b]``."""

    base: str
    dotted: str = ""

    @property
    def path(self) -> str:
        return f"{self.base}.properties[{self.dotted}]" if self.dotted else self.base

    def field(self, key: str) -> str:
        return _join(self.path, key)

    def child(self, name: str) -> _At:
        return _At(self.base, f"{self.dotted}.{name}" if self.dotted else name)


Handler = Callable[[_At, Doc, Doc], Iterator[Change]]


class _Level(NamedTuple):
    """The rules for one kind of element, the fields they read, and the fields that are documentation."""

    rules: tuple[Handler, ...]
    covered: frozenset[str]
    metadata: frozenset[str] = frozenset()


def _compare(at: _At, old: Doc, new: Doc, level: _Level) -> Iterator[Change]:
    """Run the level's rules; a changed field no rule reads is metadata, or else unclassified."""
    for rule in level.rules:
        yield from rule(at, old, new)
    for key in _union(old, new):
        if key not in level.covered and old.get(key) != new.get(key):
            kind = "metadata_changed" if key in level.metadata else "unclassified_change"
            yield _make(kind, at.field(key), old.get(key), new.get(key))


def _union(old: Doc, new: Doc) -> list[str]:
    return list(dict.fromkeys([*old, *new]))


def _custom(element: Doc) -> dict[str, Any]:
    """ODCS customProperties (a list of ``{property, value}``) as a mapping; a code written as its Chinese
    name is read as the code, as the loader reads it."""
    return {
        c["property"]: canonical_custom(c["property"], c.get("value"))
        for c in element.get("customProperties") or []
        if c.get("property")
    }


# --- matching list items across versions -------------------------------------------------------------

Key = Callable[[Doc], Any]


def _by(field: str) -> Key:
    return lambda item: item.get(field)


def _canonical(item: Doc) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)


_ID_THEN_NAME: tuple[Key, ...] = (_by("id"), _by("name"))


def _align(
    old: Sequence[Doc], new: Sequence[Doc], keys: Sequence[Key]
) -> list[tuple[Doc | None, Doc | None]]:
    """Pair items by the first key both carry (a stable id before a name, so a renamed item keeps its pair).

    Old items come in their order, unpaired ones with ``None``; new items without a pair follow.
    """
    paired: dict[int, int] = {}
    free = list(range(len(new)))
    for key in keys:
        for i, item in enumerate(old):
            value = key(item)
            if i in paired or value is None:
                continue
            j = next((j for j in free if key(new[j]) == value), None)
            if j is not None:
                paired[i] = j
                free.remove(j)
    aligned: list[tuple[Doc | None, Doc | None]] = [
        (item, new[paired[i]] if i in paired else None) for i, item in enumerate(old)
    ]
    return aligned + [(None, new[j]) for j in free]


def _name(item: Doc) -> str:
    return str(item.get("name"))


# --- generic field rules ------------------------------------------------------------------------------


def _field(key: str, kind: str) -> Handler:
    """Any difference in ``key`` is a change of ``kind``."""

    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        if old.get(key) != new.get(key):
            yield _make(kind, at.field(key), old.get(key), new.get(key))

    return rule


def _flag(key: str, set_kind: str, unset_kind: str) -> Handler:
    """A flag defaulting to false (``required``, ``unique``): setting it tightens, clearing it relaxes."""

    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        if bool(old.get(key)) != bool(new.get(key)):
            yield _make(set_kind if new.get(key) else unset_kind, at.field(key), old.get(key), new.get(key))

    return rule


# --- value constraints (logicalTypeOptions, enum) -----------------------------------------------------

End = tuple[Any, bool]  # a range end: its value and whether it is exclusive


def _order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 for numbers or ISO dates and timestamps; None when they cannot be compared."""
    x, y = _comparable(a), _comparable(b)
    if isinstance(x, float) and isinstance(y, float):
        return (x > y) - (x < y)
    if isinstance(x, datetime) and isinstance(y, datetime):
        try:
            return (x > y) - (x < y)
        except TypeError:  # one has an offset, the other not
            return None
    return None


def _comparable(value: Any) -> float | datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _stricter(now: End | None, was: End | None, lower: bool) -> int | None:
    """1 when ``now`` admits fewer values than ``was``, -1 more, 0 the same; None when not comparable.

    ``None`` is no bound at all, the loosest.
    """
    if now == was:
        return 0
    if now is None:
        return -1
    if was is None:
        return 1
    order = _order(now[0], was[0])
    if order is None:
        return None
    if order == 0:
        return 0 if now[1] == was[1] else (1 if now[1] else -1)
    return order if lower else -order


def _verdict(path: str, family: str, stricter: int | None, old: Any, new: Any) -> Iterator[Change]:
    if stricter == 1:
        yield _make(f"{family}_narrowed", path, old, new)
    elif stricter == -1:
        yield _make(f"{family}_widened", path, old, new)
    elif stricter is None:
        yield _make("unclassified_change", path, old, new)


def _bound(inclusive: str, exclusive: str, lower: bool) -> Handler:
    """One end of a value range; of an inclusive and an exclusive bound the tighter one counts."""

    def end(options: Doc) -> End | None:
        ends = [(options[k], k == exclusive) for k in (inclusive, exclusive) if options.get(k) is not None]
        if len(ends) == 2:
            return ends[0] if _stricter(ends[0], ends[1], lower) == 1 else ends[1]
        return ends[0] if ends else None

    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        was, now = end(old), end(new)
        shown = now or was
        if shown is not None:
            path = at.field(exclusive if shown[1] else inclusive)
            old_value, new_value = None if was is None else was[0], None if now is None else now[0]
            yield from _verdict(path, "range", _stricter(now, was, lower), old_value, new_value)

    return rule


def _size(key: str, lower: bool) -> Handler:
    """A length or count bound (``minLength``, ``maxItems``, …); a missing minimum is 0."""

    def end(options: Doc) -> End | None:
        value = options.get(key, 0 if lower else None)
        return None if value is None else (value, False)

    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        was, now = end(old), end(new)
        yield from _verdict(at.field(key), "length", _stricter(now, was, lower), old.get(key), new.get(key))

    return rule


def _multiple_of(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Each multiple of the new step is a multiple of the old one exactly when new / old is whole."""
    was, now = old.get("multipleOf"), new.get("multipleOf")
    if was == now:
        return
    stricter: int | None
    if now is None:
        stricter = -1
    elif was is None:
        stricter = 1
    else:
        try:
            stricter = 1 if (Fraction(str(now)) / Fraction(str(was))).denominator == 1 else -1
        except (ValueError, ZeroDivisionError):
            stricter = None
    yield from _verdict(at.field("multipleOf"), "range", stricter, was, now)


def _pattern(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Whether one regular expression admits less than another is undecidable here: only a new one is safe."""
    was, now = old.get("pattern"), new.get("pattern")
    if was != now:
        yield _make("pattern_added" if was is None else "pattern_changed", at.field("pattern"), was, now)


def _enum_values(prop: Doc) -> dict[str, Any] | None:
    """Allowed values: ODCS v3.2 ``enum`` (values or ``{value: …}``), else ``logicalTypeOptions.enum``."""
    values = prop.get("enum")
    if values is None:
        values = (prop.get("logicalTypeOptions") or {}).get("enum")
    if values is None:
        return None
    plain = [v.get("value") if isinstance(v, Mapping) else v for v in values]
    return {_canonical({"v": v}): v for v in plain}


def _enum(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    was, now = _enum_values(old), _enum_values(new)
    old_keys, new_keys = None if was is None else set(was), None if now is None else set(now)
    if old_keys == new_keys:
        return
    widened = new_keys is None or (old_keys is not None and not new_keys <= old_keys)
    yield _make(
        "enum_widened" if widened else "enum_narrowed",
        at.field("enum"),
        None if was is None else list(was.values()),
        None if now is None else list(now.values()),
    )


_TYPE_OPTIONS = _Level(
    rules=(
        _bound("minimum", "exclusiveMinimum", lower=True),
        _bound("maximum", "exclusiveMaximum", lower=False),
        _size("minLength", lower=True),
        _size("maxLength", lower=False),
        _size("minItems", lower=True),
        _size("maxItems", lower=False),
        _size("minProperties", lower=True),
        _size("maxProperties", lower=False),
        _multiple_of,
        _pattern,
        _field("format", "format_changed"),
        _field("unit", "unit_changed"),
        _field("timezone", "timezone_changed"),
        _field("defaultTimezone", "timezone_changed"),
        _flag("uniqueItems", "unique_added", "unique_relaxed"),
    ),
    covered=frozenset(
        {
            "minimum",
            "exclusiveMinimum",
            "maximum",
            "exclusiveMaximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
            "multipleOf",
            "pattern",
            "format",
            "unit",
            "timezone",
            "defaultTimezone",
            "uniqueItems",
            "enum",
        }
    ),
)


def _type_options(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    yield from _compare(
        _At(at.field("logicalTypeOptions")),
        old.get("logicalTypeOptions") or {},
        new.get("logicalTypeOptions") or {},
        _TYPE_OPTIONS,
    )


def _custom_properties(level: _Level) -> Handler:
    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        yield from _compare(_At(at.field("customProperties")), _custom(old), _custom(new), level)

    return rule


# --- access: classification and desensitisation --------------------------------------------------------

_CLASSIFICATION_RANK = {"public": 0, "internal": 1, "restricted": 2, "confidential": 3, "secret": 3}


def _classification_rank(value: Any) -> int | None:
    """No classification restricts nothing, like ``public``; an unknown label cannot be ranked."""
    if value is None:
        return 0
    return _CLASSIFICATION_RANK.get(str(value).lower())


def _classification(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    was, now = old.get("classification"), new.get("classification")
    if was == now:
        return
    a, b = _classification_rank(was), _classification_rank(now)
    if a is None or b is None:
        kind = "classification_changed"
    elif a == b:
        kind = "metadata_changed"  # another label for the same level (confidential, secret)
    else:
        kind = "classification_raised" if b > a else "classification_lowered"
    yield _make(kind, at.field("classification"), was, now)


# How much of a value consumers lose: a pseudonym hides the value as a mask does (and links it).
_STRENGTH = {
    Desensitise.keep: 0,
    Desensitise.scan: 1,
    Desensitise.generalise: 1,
    Desensitise.mask: 2,
    Desensitise.pseudonym: 2,
    Desensitise.redact: 3,
}


def _desensitise_range(prop: Doc, method: Any) -> tuple[int, int] | None:
    """The weakest and strongest method that can apply; None for an unknown method.

    Without an explicit method the loader's default applies: with a dictionary element it depends on the
    element (keep, scan for free text, mask for direct identifiers, generalise for quasi-identifiers),
    without one string columns are scanned.
    """
    if method is not None:
        strength = _STRENGTH.get(method)
        return None if strength is None else (strength, strength)
    if _custom(prop).get("dictionaryElement") is not None:
        return _STRENGTH[Desensitise.keep], _STRENGTH[Desensitise.mask]
    element_type = LOGICAL_TO_ELEMENT.get(prop.get("logicalType") or "string", ElementType.string)
    default = Desensitise.scan if element_type is ElementType.string else Desensitise.keep
    return _STRENGTH[default], _STRENGTH[default]


def _desensitise(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Stronger when the new method may hide more than the old one showed.

    Two defaults are not compared: what they depend on (type, dictionary element) is reported on its own.
    """
    was, now = _custom(old).get("desensitise"), _custom(new).get("desensitise")
    if was == now:
        return
    old_range, new_range = _desensitise_range(old, was), _desensitise_range(new, now)
    if old_range is None or new_range is None:
        kind = "unclassified_change"
    else:
        kind = "desensitise_strengthened" if new_range[1] > old_range[0] else "desensitise_weakened"
    yield _make(kind, _join(at.field("customProperties"), "desensitise"), was, now)


# --- quality rules and relationships -----------------------------------------------------------------

_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def _tighter(was: Any, now: Any, higher_is_stricter: bool) -> int:
    if isinstance(was, bool) or isinstance(now, bool):
        return 0
    if not isinstance(was, int | float) or not isinstance(now, int | float):
        return 0
    step = (now > was) - (now < was)
    return step if higher_is_stricter else -step


def _is_stricter(old: Doc, new: Doc) -> bool:
    """A higher severity, a tighter threshold or a shorter stuck-value window, and nothing looser."""
    steps = [
        _tighter(
            _SEVERITY_RANK.get(old.get("severity", "")), _SEVERITY_RANK.get(new.get("severity", "")), True
        ),
        _tighter(old.get("mustBeGreaterThan"), new.get("mustBeGreaterThan"), True),
        _tighter(old.get("mustBeGreaterOrEqualTo"), new.get("mustBeGreaterOrEqualTo"), True),
        _tighter(old.get("mustBeLessThan"), new.get("mustBeLessThan"), False),
        _tighter(old.get("mustBeLessOrEqualTo"), new.get("mustBeLessOrEqualTo"), False),
    ]
    was_between, now_between = old.get("mustBeBetween"), new.get("mustBeBetween")
    if (
        isinstance(was_between, list)
        and isinstance(now_between, list)
        and len(was_between) == len(now_between) == 2
    ):
        steps += [
            _tighter(was_between[0], now_between[0], True),
            _tighter(was_between[1], now_between[1], False),
        ]
    was_impl, now_impl = old.get("implementation"), new.get("implementation")
    if isinstance(was_impl, Mapping) and isinstance(now_impl, Mapping):
        steps.append(_tighter(was_impl.get("minHours"), now_impl.get("minHours"), False))
    return 1 in steps and -1 not in steps


def _label(item: Doc) -> str:
    return next(
        (str(item[k]) for k in ("name", "id", "property", "to", "metric", "type") if item.get(k)), "?"
    )


def _checks(field: str, noun: str) -> Handler:
    """Quality rules or relationships: matched by id, then name, then identical content."""

    def rule(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
        pairs = _align(old.get(field) or [], new.get(field) or [], (*_ID_THEN_NAME, _canonical))
        for was, now in pairs:
            if was == now:
                continue
            path = at.field(f"{field}[{_label(was or now or {})}]")
            if was is None:
                yield _make(f"{noun}_added", path, None, now)
            elif now is None:
                yield _make(f"{noun}_removed", path, was, None)
            elif noun == "quality_rule" and _is_stricter(was, now):
                yield _make("quality_rule_stricter", path, was, now)
            else:
                yield _make(f"{noun}_changed", path, was, now)

    return rule


# --- properties (columns) ------------------------------------------------------------------------------


def _columns(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Properties of a schema object or of an object property, compared recursively."""
    for was, now in _align(old.get("properties") or [], new.get("properties") or [], _ID_THEN_NAME):
        if now is None:
            assert was is not None
            yield _make("column_removed", at.child(_name(was)).path, was.get("name"), None)
        elif was is None:
            kind = "required_column_added" if now.get("required") else "column_added"
            yield _make(kind, at.child(_name(now)).path, None, now.get("name"))
        else:
            yield from _compare(at.child(_name(was)), was, now, _PROPERTY)


def _items(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """The item of an array property, compared like a property."""
    was, now = old.get("items"), new.get("items")
    if was != now:
        yield from _compare(_At(at.field("items")), was or {}, now or {}, _PROPERTY)


_PROPERTY_CUSTOM = _Level(
    rules=(
        _field("dictionaryElement", "dictionary_element_changed"),
        _field("crosswalk", "crosswalk_changed"),
        _field("unit", "unit_changed"),
        _field("timezone", "timezone_changed"),
        _field("defaultTimezone", "timezone_changed"),
    ),
    covered=frozenset(
        {"dictionaryElement", "crosswalk", "unit", "timezone", "defaultTimezone", "desensitise"}
    ),
)

_PROPERTY = _Level(
    rules=(
        _field("name", "column_renamed"),
        _field("logicalType", "type_changed"),
        _field("physicalType", "physical_type_changed"),
        _field("physicalName", "physical_name_changed"),
        _flag("required", "required_added", "required_relaxed"),
        _flag("unique", "unique_added", "unique_relaxed"),
        _classification,
        _type_options,
        _enum,
        _custom_properties(_PROPERTY_CUSTOM),
        _desensitise,
        _checks("quality", "quality_rule"),
        _checks("relationships", "relationship"),
        _columns,
        _items,
    ),
    covered=frozenset(
        {
            "name",
            "logicalType",
            "physicalType",
            "physicalName",
            "required",
            "unique",
            "classification",
            "logicalTypeOptions",
            "enum",
            "customProperties",
            "quality",
            "relationships",
            "properties",
            "items",
            "primaryKey",
            "primaryKeyPosition",
        }
    ),
    metadata=frozenset(
        {
            "id",
            "description",
            "businessName",
            "tags",
            "authoritativeDefinitions",
            "examples",
            "criticalDataElement",
            "transformSourceObjects",
            "transformLogic",
            "transformDescription",
            "encryptedName",
            "partitioned",
            "partitionKeyPosition",
        }
    ),
)


# --- schema objects ---------------------------------------------------------------------------------


def _key_columns(props: Sequence[Doc]) -> list[str]:
    """Dotted names of the primary-key properties, in primaryKeyPosition order (unpositioned last)."""
    found: list[tuple[int, int, str]] = []

    def walk(items: Sequence[Doc], prefix: str) -> None:
        for prop in items:
            name = prefix + _name(prop)
            if prop.get("primaryKey"):
                position = prop.get("primaryKeyPosition")
                rank = position if isinstance(position, int) and position >= 1 else 1 << 31
                found.append((rank, len(found), name))
            walk(prop.get("properties") or [], f"{name}.")

    walk(props, "")
    return [name for _, _, name in sorted(found)]


def _old_names(
    old: Sequence[Doc], new: Sequence[Doc], old_prefix: str = "", new_prefix: str = ""
) -> dict[str, str]:
    """New dotted name → old dotted name of every paired property, so a rename alone is no key change."""
    names: dict[str, str] = {}
    for was, now in _align(old, new, _ID_THEN_NAME):
        if was is not None and now is not None:
            old_name, new_name = old_prefix + _name(was), new_prefix + _name(now)
            names[new_name] = old_name
            names |= _old_names(
                was.get("properties") or [], now.get("properties") or [], f"{old_name}.", f"{new_name}."
            )
    return names


def _primary_key(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    old_props, new_props = old.get("properties") or [], new.get("properties") or []
    was, now = _key_columns(old_props), _key_columns(new_props)
    old_names = _old_names(old_props, new_props)
    if was != [old_names.get(name, name) for name in now]:
        yield _make("primary_key_changed", at.field("primaryKey"), was, now)


_OBJECT = _Level(
    rules=(
        _field("name", "object_renamed"),
        _field("physicalName", "physical_name_changed"),
        _field("physicalType", "physical_type_changed"),
        _field("logicalType", "type_changed"),
        _primary_key,
        _columns,
        _checks("quality", "quality_rule"),
        _checks("relationships", "relationship"),
        _custom_properties(_Level(rules=(), covered=frozenset())),
    ),
    covered=frozenset(
        {
            "name",
            "physicalName",
            "physicalType",
            "logicalType",
            "properties",
            "quality",
            "relationships",
            "customProperties",
        }
    ),
    metadata=frozenset(
        {
            "id",
            "description",
            "businessName",
            "tags",
            "authoritativeDefinitions",
            "dataGranularityDescription",
        }
    ),
)


def _schema(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    for was, now in _align(old.get("schema") or [], new.get("schema") or [], _ID_THEN_NAME):
        if now is None:
            assert was is not None
            yield _make("object_removed", f"schema[{_name(was)}]", was.get("name"), None)
        elif was is None:
            yield _make("object_added", f"schema[{_name(now)}]", None, now.get("name"))
        else:
            yield from _compare(_At(f"schema[{_name(was)}]"), was, now, _OBJECT)


# --- contract level: customProperties, SLAs, servers, apiVersion ----------------------------------------

_SHARING_RANK = {SharingClass.unconditional: 0, SharingClass.conditional: 1, SharingClass.not_shared: 2}


def _sharing(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Ordered unconditional > conditional > not_shared; missing is conditional, as the loader reads it."""
    was, now = old.get("sharingClass"), new.get("sharingClass")
    a = _SHARING_RANK.get(was or SharingClass.conditional)
    b = _SHARING_RANK.get(now or SharingClass.conditional)
    if a == b:
        return
    if a is None or b is None:
        kind = "unclassified_change"
    else:
        kind = "sharing_restricted" if b > a else "sharing_widened"
    yield _make(kind, at.field("sharingClass"), was, now)


_DEFAULT_DELIVERY = Delivery()
_DELIVERY_DEFAULTS = {
    "format": _DEFAULT_DELIVERY.format.value,
    "encoding": _DEFAULT_DELIVERY.encoding,
    "publishMode": _DEFAULT_DELIVERY.publish_mode.value,
}


def _delivery(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    was = {**_DELIVERY_DEFAULTS, **(old.get("delivery") or {})}
    now = {**_DELIVERY_DEFAULTS, **(new.get("delivery") or {})}
    for key in _union(was, now):
        if was.get(key) != now.get(key):
            yield _make("delivery_changed", _join(at.field("delivery"), key), was.get(key), now.get(key))


_CONTRACT_CUSTOM = _Level(
    rules=(_sharing, _field("channel", "channel_changed"), _delivery),
    covered=frozenset({"sharingClass", "channel", "delivery"}),
    metadata=frozenset({"ownerDepartment"}),
)

# +1: more is better for consumers (retention); -1: less is better (latency, frequency as an interval)
_SLA_DIRECTION = {"latency": -1, "frequency": -1, "retention": 1}


def _seconds(sla: Doc) -> float | None:
    """The SLA value as a duration (datahub.contracts.sla); None when it is not one (``m`` is minutes or
    months, so it is not one)."""
    try:
        return sla_duration(sla.get("value"), sla.get("unit")).total_seconds()
    except ValueError:
        return None


def _sla_text(sla: Doc) -> str:
    return f"{sla.get('value')} {sla.get('unit')}" if sla.get("unit") else str(sla.get("value"))


def _sla_value(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    """Latency and frequency should not grow, retention should not shrink; 24 h and 1 d are the same."""
    fields = ("property", "value", "unit")
    if [old.get(k) for k in fields] == [new.get(k) for k in fields]:
        return
    was, now = _seconds(old), _seconds(new)
    direction = _SLA_DIRECTION.get(str(new.get("property")))
    if old.get("property") != new.get("property") or direction is None or was is None or now is None:
        kind = "sla_changed"
    elif was == now:
        return
    else:
        kind = "sla_improved" if (now - was) * direction > 0 else "sla_degraded"
    yield _make(kind, at.field("value"), _sla_text(old), _sla_text(new))


_SLA = _Level(
    rules=(_sla_value, _field("element", "sla_changed")),
    covered=frozenset({"property", "value", "unit", "element"}),
    metadata=frozenset({"id", "description", "driver", "scheduler", "schedule"}),
)


def _slas(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    pairs = _align(
        old.get("slaProperties") or [], new.get("slaProperties") or [], (_by("id"), _by("property"))
    )
    for was, now in pairs:
        label = f"slaProperties[{_label(was or now or {})}]"
        if now is None:
            assert was is not None
            yield _make("sla_removed", label, _sla_text(was), None)
        elif was is None:
            yield _make("sla_added", label, None, _sla_text(now))
        else:
            yield from _compare(_At(label), was, now, _SLA)


def _servers(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    for was, now in _align(old.get("servers") or [], new.get("servers") or [], (_by("id"), _by("server"))):
        label = f"servers[{(was or now or {}).get('server')}]"
        if now is None:
            yield _make("server_removed", label, was, None)
        elif was is None:
            yield _make("server_added", label, None, now)
        else:
            for key in _union(was, now):
                if was.get(key) != now.get(key):
                    kind = "metadata_changed" if key in ("id", "description") else "server_changed"
                    yield _make(kind, _join(label, key), was.get(key), now.get(key))


def _api_major(value: Any) -> int | None:
    match = re.match(r"v?(\d+)\.", str(value))
    return int(match.group(1)) if match else None


def _api_version(at: _At, old: Doc, new: Doc) -> Iterator[Change]:
    was, now = old.get("apiVersion"), new.get("apiVersion")
    if was != now:
        major = _api_major(was)
        same_major = major is not None and major == _api_major(now)
        kind = "api_version_changed" if same_major else "api_version_major_changed"
        yield _make(kind, at.field("apiVersion"), was, now)


_CONTRACT = _Level(
    rules=(
        _field("version", "version_changed"),
        _api_version,
        _custom_properties(_CONTRACT_CUSTOM),
        _slas,
        _servers,
        _schema,
    ),
    covered=frozenset({"version", "apiVersion", "customProperties", "slaProperties", "servers", "schema"}),
    metadata=frozenset(
        {
            "name",
            "status",
            "domain",
            "dataProduct",
            "tenant",
            "description",
            "tags",
            "team",
            "support",
            "roles",
            "authoritativeDefinitions",
            "price",
            "contractCreatedTs",
        }
    ),
)


def diff_contracts(old: dict[str, Any], new: dict[str, Any]) -> ContractDiff:
    """Every change from ``old`` to ``new`` (raw documents, as ``load_yaml`` reads them), for consumers."""
    return ContractDiff(list(_compare(_At(""), old, new, _CONTRACT)))


_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def required_bump(old_version: str, new_version: str, diff: ContractDiff) -> str | None:
    """Why ``new_version`` cannot follow ``old_version`` given ``diff``, or None when it can.

    Consumers pin a major version; a breaking change under the same major would reach them unannounced.
    A version that is not semantic (x.y.z) cannot be checked, which is a reason of its own.
    """
    majors = []
    for version in (old_version, new_version):
        match = _SEMVER.fullmatch(str(version).strip())
        if match is None:
            return f"version {version!r} is not semantic (x.y.z), so the required bump cannot be checked"
        majors.append(int(match.group(1)))
    if diff.breaking and majors[1] <= majors[0]:
        kinds = ", ".join(sorted({c.kind for c in diff.changes if c.breaking}))
        return (
            f"breaking changes ({kinds}) need a new major version, but {old_version} → {new_version} keeps it"
        )
    return None
