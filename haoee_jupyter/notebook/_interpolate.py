"""Fill ``{name}`` references in a prompt from the user's namespace, and nothing else.

A reference is a name followed by attributes, literal subscripts or calls with literal
arguments: ``{topic}``, ``{row.title}``, ``{cfg['lang']}`` (or ``{cfg[lang]}`` as in
``str.format``), ``{In[3]}``, ``{df.head()}``.
Other braces (JSON, set literals, LaTeX such as ``\\frac{a}{b}``) are left as they are, and so
is everything inside Markdown code (fenced blocks and `inline code`), where braces are the
code's own; ``{{name}}`` gives a literal ``{name}``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

_REF = r"[A-Za-z_]\w*(?:\s*(?:\.\s*[A-Za-z_]\w*|\[[^\[\]{}\n]*\]|\([^(){}\n]*\)))*"
# Braces right after a word, backslash command, ^, _, $ or } are LaTeX or shell, not ours.
_PATTERN = re.compile(r"\{\{\s*(" + _REF + r")\s*\}\}|(?<![\w\\^_$}])\{\s*(" + _REF + r")\s*\}(?!\})")


# Markdown code, as CommonMark reads it: a fenced block (``` or ~~~, any info string; a backtick
# fence's info string has no backticks) to a closing fence at least as long, or to the end; or an
# inline code span, closed by the first backtick run of the same length, on the same line.
_CODE = re.compile(
    r"^[ \t]*(?P<ticks>`{3,})[^`\n]*(?:\n.*?(?:^[ \t]*(?P=ticks)`*[ \t]*$|\Z)|\Z)"
    r"|^[ \t]*(?P<tildes>~{3,})[^\n]*(?:\n.*?(?:^[ \t]*(?P=tildes)~*[ \t]*$|\Z)|\Z)"
    r"|(?<!`)(?P<span>`+)(?!`)[^\n]+?(?<!`)(?P=span)(?!`)",
    re.M | re.S,
)


class InterpolationError(Exception):
    """A reference that could not be filled; the message names it and how to escape braces.
    ``undefined`` is the name it refers to when that name is not defined."""

    undefined: str | None = None


def _is_reference(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _is_reference(node.value)
    if isinstance(node, ast.Subscript):
        return _is_reference(node.value) and _is_literal(node.slice)
    if isinstance(node, ast.Call):
        literal_args = all(_is_literal(arg) for arg in node.args) and all(
            _is_literal(kw.value) for kw in node.keywords if kw.arg
        )
        return _is_reference(node.func) and literal_args and all(kw.arg for kw in node.keywords)
    return False


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return isinstance(node, ast.Slice) and all(
            part is None or _is_literal(part) for part in (node.lower, node.upper, node.step)
        )
    return True


def _root(node: ast.AST) -> str:
    while not isinstance(node, ast.Name):
        node = node.func if isinstance(node, ast.Call) else node.value  # type: ignore[attr-defined]
    return node.id


def interpolate(template: str, namespace: Mapping[str, Any]) -> str:
    """Replace each reference with ``str()`` of its value.

    >>> interpolate("Summarize {topic} as JSON like {\\"a\\": 1}", {"topic": "entropy"})
    'Summarize entropy as JSON like {"a": 1}'
    """

    def fill(match: re.Match[str]) -> str:
        escaped, expression = match.group(1), match.group(2)
        if escaped is not None:
            return "{" + escaped + "}"
        # As in str.format, {cfg[lang]} means the string key 'lang'.
        source = re.sub(r"\[\s*([A-Za-z_]\w*)\s*\]", r"['\1']", expression.strip())
        try:
            tree = ast.parse(source, mode="eval").body
        except SyntaxError:
            return match.group(0)
        if not _is_reference(tree):
            return match.group(0)
        name = _root(tree)
        if name not in namespace and name not in ("In", "Out"):
            error = InterpolationError(
                f"{{{expression.strip()}}} refers to {name!r}, which is not defined. Define it in a cell first, "
                f"write {{{{{expression.strip()}}}}} for literal braces, or use --raw to send the text as is"
            )
            error.undefined = name
            raise error
        try:
            value = eval(compile(ast.Expression(tree), "<prompt>", "eval"), {"__builtins__": {}}, namespace)
        except Exception as e:  # the user's own objects can raise anything
            raise InterpolationError(f"{{{expression.strip()}}} could not be filled: {type(e).__name__}: {e}") from e
        return str(value)

    pieces, last = [], 0
    for code in _CODE.finditer(template):
        pieces += [_PATTERN.sub(fill, template[last : code.start()]), code.group(0)]
        last = code.end()
    return "".join(pieces) + _PATTERN.sub(fill, template[last:])
