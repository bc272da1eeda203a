"""Just enough of Go to read the literal test tables of an upstream `_test.go` file as data.

A tokenizer (comments, interpreted and raw strings, runes, numbers, identifiers, operators) and a
reader for composite literals and the expressions tables are written with: string and number
literals, `+ - * <<`, `strings.Repeat`, calls and selectors (kept as `Call` and `Name` for the
caller to interpret). Anything else raises `GoSyntaxError`, so a table the reader does not
understand stops the extraction instead of yielding fewer vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<rune>'(?:[^'\\\n]|\\.[^']*)')
  | (?P<number>0[xX][0-9a-fA-F_]+
      |(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|<<|>>|&&|\|\||==|!=|<=|>=|\.\.\.|[-+*/%&|^<>=!(){}\[\],;:.])
    """,
    re.VERBOSE | re.DOTALL,
)


class GoSyntaxError(ValueError):
    pass


CONSTANTS: dict[str, Any] = {}
"""Values of named constants a table uses (`v1.ResourceHugePagesPrefix`), set by the caller: a
constant of another package is not in the file, and must be copied from its source."""
CONVERSIONS: set[str] = set()
"""Type conversions to read as their argument (`core.ResourceName("cpu")` is "cpu")."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


@dataclass(frozen=True)
class Name:
    """An identifier or selector the reader does not evaluate (`maxAllowed`, `digest.ErrX`)."""

    text: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Composite:
    """`Type{...}`: `items` are (key or None, value) pairs in source order."""

    type: str
    items: tuple[tuple[Any, Any], ...]

    def field(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == Name(key):
                return v
        return default

    def values(self) -> list[Any]:
        return [v for _, v in self.items]


def tokens(source: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise GoSyntaxError(f"cannot read Go at offset {pos}: {source[pos : pos + 30]!r}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            out.append(Token(kind, match.group(), pos))
        pos = match.end()
    return out


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unquote(literal: str) -> str:
    """A Go interpreted (`"..."`) or raw (`` `...` ``) string literal's value."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")
    body, out, i = literal[1:-1], [], 0
    raw = bytearray()

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8"))
            raw.clear()

    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            flush()
            out.append(_ESCAPES[e])
            i += 2
        elif e in "\\'\"":
            flush()
            out.append(e)
            i += 2
        elif e == "x":
            raw.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif e in "01234567":
            raw.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif e in "uU":
            width = 4 if e == "u" else 8
            flush()
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise GoSyntaxError(f"unknown escape \\{e} in {literal}")
    flush()
    return "".join(out)


class Reader:
    def __init__(self, toks: list[Token], pos: int = 0) -> None:
        self.toks, self.pos = toks, pos

    def peek(self, offset: int = 0) -> Token:
        return self.toks[self.pos + offset]

    def take(self, text: str | None = None) -> Token:
        tok = self.toks[self.pos]
        if text is not None and tok.text != text:
            raise GoSyntaxError(f"expected {text!r} at offset {tok.at}, found {tok.text!r}")
        self.pos += 1
        return tok

    def skip_balanced(self) -> None:
        """Past the bracketed group that starts here (`{...}`, `(...)`, `[...]`)."""
        pairs = {"{": "}", "(": ")", "[": "]"}
        stack = [pairs[self.take().text]]
        while stack:
            text = self.take().text
            if text in pairs:
                stack.append(pairs[text])
            elif text == stack[-1]:
                stack.pop()

    def type_text(self) -> str:
        """A type written before a composite literal's `{`: `[]string`, `[]struct{...}`."""
        parts: list[str] = []
        while True:
            tok = self.peek()
            if tok.text == "[":
                parts.append("[")
                self.take()
                while self.peek().text != "]":
                    parts.append(self.take().text)
                parts.append(self.take().text)
            elif tok.text in ("struct", "interface"):
                parts.append(self.take().text + "{...}")
                self.skip_balanced()
                return "".join(parts)
            elif tok.text in ("*", "map"):
                parts.append(self.take().text)
            elif tok.kind == "name":
                parts.append(self.take().text)
                while self.peek().text == ".":
                    parts.append(self.take().text + self.take().text)
                if self.peek().text == "[":  # generic arguments
                    start = self.pos
                    self.skip_balanced()
                    parts.append("".join(t.text for t in self.toks[start : self.pos]))
                return "".join(parts)
            else:
                return "".join(parts)

    def composite_body(self, type_: str) -> Composite:
        self.take("{")
        items: list[tuple[Any, Any]] = []
        while self.peek().text != "}":
            if self.peek().text == "{":
                value: Any = self.composite_body("")
            else:
                value = self.expression()
            if self.peek().text == ":":
                self.take()
                key = value
                value = self.composite_body("") if self.peek().text == "{" else self.expression()
                items.append((key, value))
            else:
                items.append((None, value))
            if self.peek().text == ",":
                self.take()
            elif self.peek().text != "}":
                raise GoSyntaxError(f"expected ',' or '}}' at offset {self.peek().at}")
        self.take("}")
        return Composite(type_, tuple(items))

    # Expressions, by precedence: + - | ^  below  * / << >> &  below unary.
    def expression(self) -> Any:
        left = self.term()
        while self.peek().text in ("+", "-", "|", "^"):
            op = self.take().text
            left = _binary(op, left, self.term())
        return left

    def term(self) -> Any:
        left = self.unary()
        while self.peek().text in ("*", "/", "<<", ">>", "&", "%"):
            op = self.take().text
            left = _binary(op, left, self.unary())
        return left

    def unary(self) -> Any:
        tok = self.peek()
        if tok.text == "-":
            self.take()
            return _binary("-", 0, self.unary())
        if tok.text in ("&", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Any:
        tok = self.peek()
        if tok.kind in ("string", "raw"):
            self.take()
            return unquote(tok.text)
        if tok.kind == "number":
            self.take()
            text = tok.text.replace("_", "")
            if text.lower().startswith("0x"):
                return int(text, 16)
            return float(text) if any(c in text for c in ".eE") else int(text)
        if tok.text == "(":
            self.take()
            value = self.expression()
            self.take(")")
            return value
        if tok.text in ("[", "struct", "map") or tok.kind == "name":
            start = self.pos
            type_ = self.type_text()
            if type_ in ("nil", "true", "false"):
                return {"nil": None, "true": True, "false": False}[type_]
            if self.peek().text == "{":
                return self.composite_body(type_)
            if self.peek().text == "(":
                self.take()
                args: list[Any] = []
                while self.peek().text != ")":
                    args.append(self.expression())
                    if self.peek().text == ",":
                        self.take()
                self.take(")")
                return _call(type_, args)
            if self.pos == start:
                raise GoSyntaxError(f"cannot read an expression at offset {tok.at}")
            return CONSTANTS.get(type_, Name(type_))
        raise GoSyntaxError(f"cannot read an expression at offset {tok.at}: {tok.text!r}")


def _binary(op: str, left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str) and op == "+":
        return left + right
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "<<" and isinstance(left, int) and isinstance(right, int):
            return left << right
    raise GoSyntaxError(f"cannot evaluate {left!r} {op} {right!r}")


def _call(function: str, args: list[Any]) -> Any:
    if function in CONVERSIONS and len(args) == 1:
        return args[0]
    if function == "strings.Repeat":
        text, count = args
        return text * count
    return Call(function, tuple(args))


def function_body(source: str, name: str) -> list[Token]:
    """The tokens of `func name(...) {...}`'s body, braces included."""
    toks = tokens(source)
    for i, tok in enumerate(toks):
        if tok.text == "func" and toks[i + 1].text == name and toks[i + 2].text == "(":
            reader = Reader(toks, i + 2)
            reader.skip_balanced()
            start = reader.pos
            reader.skip_balanced()
            return toks[start : reader.pos]
    raise GoSyntaxError(f"no func {name}")


def assignments(body: list[Token]) -> list[tuple[str, Any]]:
    """Every `name := <composite literal>` in `body`, in source order, with its value."""
    found: list[tuple[str, Any]] = []
    for i, tok in enumerate(body[:-2]):
        if tok.kind == "name" and body[i + 1].text == ":=":
            reader = Reader(body, i + 2)
            if reader.peek().text not in ("[", "map", "struct") and not (
                reader.peek().kind == "name" and body[i + 3].text in ("{", ".")
            ):
                continue
            type_ = reader.type_text()
            if reader.peek().text == "{":
                found.append((tok.text, reader.composite_body(type_)))
    return found


def calls(body: list[Token], function: str) -> list[tuple[Any, ...]]:
    """The arguments of every call of `function` in `body` that the reader can evaluate."""
    found: list[tuple[Any, ...]] = []
    parts = function.split(".")
    for i in range(len(body)):
        texts = [t.text for t in body[i : i + 2 * len(parts) - 1]]
        if texts[::2] == parts and all(t == "." for t in texts[1::2]):
            reader = Reader(body, i + 2 * len(parts) - 1)
            if reader.peek().text != "(":
                continue
            reader.take("(")
            args: list[Any] = []
            try:
                while reader.peek().text != ")":
                    args.append(reader.expression())
                    if reader.peek().text == ",":
                        reader.take()
            except GoSyntaxError:
                continue
            found.append(tuple(args))
    return found
