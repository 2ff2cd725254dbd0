"""Deterministic JSON instances for `text.format` json_schema requests.

Covers what structured-output schemas use in practice: objects, arrays, scalar types, enum,
const, `$ref` into `$defs`/`definitions`, anyOf/oneOf (the first non-null option), allOf,
nullable type lists, string formats, length and numeric bounds. `pattern` is not honoured.

    >>> instance_for({"type": "object", "properties": {"name": {"type": "string"}}}, seed="x")
    {'name': 'offline demo name'}
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["instance_for"]

# Recursive schemas (a tree node with children) would otherwise never end: below _SHALLOW the
# generator takes the smallest valid choice (null option, no optional keys, fewest items), and
# below _MAX_DEPTH it gives up with null.
_SHALLOW = 4
_MAX_DEPTH = 12

_FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "12:00:00Z",
    "email": "demo@example.com",
    "uri": "https://example.com/offline-demo",
    "url": "https://example.com/offline-demo",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "PT1M",
}


def instance_for(schema: Any, *, seed: str) -> Any:
    """A value valid for `schema`, derived deterministically from `seed` (the prompt text)."""
    return _Generator(schema, seed).generate(schema, "value", 0)


class _Generator:
    def __init__(self, root: Any, seed: str) -> None:
        self.root = root
        self.seed = seed

    def number_for(self, path: str) -> int:
        """A small number (1..9) that depends on the prompt and on where it sits in the schema."""
        digest = hashlib.sha256(f"{self.seed}\x00{path}".encode()).hexdigest()
        return 1 + int(digest[:8], 16) % 9

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow `$ref` chains; keywords next to a `$ref` override the target's."""
        seen: set[str] = set()
        while isinstance(schema.get("$ref"), str):
            ref: str = schema["$ref"]
            if ref in seen or not ref.startswith("#"):
                return {}
            seen.add(ref)
            target: Any = self.root
            for part in [p for p in ref[1:].split("/") if p]:
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, Mapping) else siblings
        return schema

    def merge_all_of(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema.get("allOf") or []:
            if not isinstance(part, Mapping):
                continue
            part = self.resolve(self.merge_all_of(self.resolve(part)))
            properties = {**part.get("properties", {}), **merged.get("properties", {})}
            required = list(dict.fromkeys([*merged.get("required", []), *part.get("required", [])]))
            merged = {**part, **merged}
            if properties:
                merged["properties"] = properties
            if required:
                merged["required"] = required
        return merged

    def generate(self, schema: Any, name: str, depth: int) -> Any:
        if schema is True or schema is None:
            return f"offline demo {name}"
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return None
        schema = self.merge_all_of(self.resolve(schema))
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for keyword in ("anyOf", "oneOf"):
            options = [o for o in schema.get(keyword) or [] if isinstance(o, Mapping)]
            if options:
                nulls = [o for o in options if self.resolve(o).get("type") == "null"]
                non_null = [o for o in options if o not in nulls]
                if nulls and (depth >= _SHALLOW or not non_null):
                    return None
                siblings = {k: v for k, v in schema.items() if k != keyword}
                return self.generate({**siblings, **non_null[0]}, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null_kinds = [k for k in kind if k != "null"]
            kind = non_null_kinds[0] if non_null_kinds and depth < _SHALLOW else kind[0]
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            return self.object_for(schema, name, depth)
        if kind == "array":
            return self.array_for(schema, name, depth)
        if kind in ("integer", "number"):
            return self.number_in_bounds(schema, name, integer=kind == "integer")
        if kind == "boolean":
            return self.number_for(name) % 2 == 1
        if kind == "null":
            return None
        return self.string_for(schema, name)

    def object_for(self, schema: Mapping[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        result: dict[str, Any] = {}
        if isinstance(properties, Mapping):
            # All properties, not just required ones (strict mode requires every key anyway),
            # until the schema nests deep enough to be recursive.
            required = set(schema.get("required") or [])
            for key, sub in properties.items():
                if depth < _SHALLOW or key in required:
                    result[key] = self.generate(sub, str(key), depth + 1)
        for key in schema.get("required") or []:
            if isinstance(key, str) and key not in result:
                result[key] = f"offline demo {key}"
        return result

    def array_for(self, schema: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        minimum = int(schema.get("minItems") or 0)
        count = max(minimum, 2) if depth < _SHALLOW else minimum
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        values: list[Any] = []
        for index in range(count):
            if isinstance(prefix, list) and index < len(prefix):
                sub = prefix[index]
            elif items is False or (items is None and isinstance(prefix, list)):
                break
            else:
                sub = items if items is not None else True
            # The index in the name keeps items distinct, which uniqueItems needs.
            value = self.generate(sub, f"{name} {index + 1}", depth + 1)
            if schema.get("uniqueItems") and isinstance(sub, Mapping):
                value = _distinct(value, values, self.resolve(sub))
            values.append(value)
        return values

    def number_in_bounds(self, schema: Mapping[str, Any], name: str, *, integer: bool) -> int | float:
        value: float = self.number_for(name) + (0 if integer else 0.5)
        step = 1 if integer else 0.5
        low = schema.get("minimum")
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            low = max(low if isinstance(low, (int, float)) else -math.inf, schema["exclusiveMinimum"] + step)
        high = schema.get("maximum")
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            high = min(high if isinstance(high, (int, float)) else math.inf, schema["exclusiveMaximum"] - step)
        if isinstance(low, (int, float)) and value < low:
            value = math.ceil(low) if integer else low
        if isinstance(high, (int, float)) and value > high:
            value = math.floor(high) if integer else high
        multiple = schema.get("multipleOf")
        if isinstance(multiple, (int, float)) and multiple > 0:
            value = math.ceil(value / multiple) * multiple
            if isinstance(high, (int, float)) and value > high:
                value -= multiple
        return int(value) if integer else float(value)

    def string_for(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        if fmt == "uuid":
            digest = hashlib.sha256(f"{self.seed}\x00{name}".encode()).hexdigest()
            text = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
        else:
            text = _FORMATS.get(str(fmt), f"offline demo {name}")
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(text) < min_length:
            text += "." * (min_length - len(text))
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(text) > max_length:
            text = text[:max_length]
        return text


def _distinct(value: Any, taken: list[Any], schema: Mapping[str, Any]) -> Any:
    """A number near `value` that is not in `taken` and stays within the item's bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in taken:
        return value
    low = schema.get("minimum", -math.inf)
    high = schema.get("maximum", math.inf)
    for distance in range(1, len(taken) + 2):
        for candidate in (value + distance, value - distance):
            if low <= candidate <= high and candidate not in taken:
                return candidate
    return value
