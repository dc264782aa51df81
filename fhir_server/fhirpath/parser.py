"""A parser for the part of FHIRPath that search parameter expressions use.

It reads paths, function calls, indexers, literals, `|`, `as`/`is`, `=`/`!=` and the boolean
operators into a small tree. Anything else (environment variables, arithmetic, dates and
quantities as literals, ...) raises `Unsupported`, and the caller hands the expression to
fhirpathpy instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class Unsupported(Exception):
    """The expression is outside the compiled subset; evaluate it with fhirpathpy."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Member:
    target: Node | None  # None: the input of the expression (the resource, or $this)
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Index:
    target: Node
    index: int


@dataclass(frozen=True, slots=True)
class TypeOp:
    op: str  # "as" | "is"
    target: Node
    type_name: str


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Literal | Member | Call | Index | TypeOp | Binary

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<number>\d+(?:\.\d+)?(?![\w.]))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
    | (?P<op>!=|!~|<=|>=|[.()\[\]|=,<>~+\-*/&%$@{}])
    )""",
    re.VERBOSE,
)

# binding strength of the binary operators (FHIRPath §6 precedence, higher binds tighter)
_PRECEDENCE = {
    "implies": 1,
    "or": 2,
    "xor": 2,
    "and": 3,
    "in": 4,
    "contains": 4,
    "=": 5,
    "!=": 5,
    "~": 5,
    "!~": 5,
    "<": 6,
    ">": 6,
    "<=": 6,
    ">=": 6,
    "|": 7,
    "is": 8,
    "as": 8,
}
_SUPPORTED_BINARY = frozenset({"or", "and", "=", "!=", "|"})
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n"}
_ESCAPES |= {"r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string | number | ident | op | end
    text: str
    start: int


def tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise Unsupported(f"cannot read {text[position:]!r}")
            tokens.append(_Token("end", "", len(text)))
            return tokens
        kind = match.lastgroup
        assert kind is not None
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()


def _unquote(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escaped = body[index + 1 : index + 2]
        if escaped == "u":
            out.append(chr(int(body[index + 2 : index + 6], 16)))
            index += 6
        elif escaped in _ESCAPES:
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            raise Unsupported(f"unknown escape \\{escaped}")
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("op", "ident"):
            raise Unsupported(f"expected {text!r} at {token.start}")

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind in ("op", "ident") and token.text in _PRECEDENCE:
            return token.text
        return None

    def expression(self, min_precedence: int = 0) -> Node:
        left = self.postfix()
        while True:
            op = self.binary_operator()
            if op is None or _PRECEDENCE[op] <= min_precedence:
                return left
            self.take()
            if op in ("as", "is"):
                left = TypeOp(op, left, self.type_specifier())
            elif op in _SUPPORTED_BINARY:
                left = Binary(op, left, self.expression(_PRECEDENCE[op]))
            else:
                raise Unsupported(f"operator {op}")

    def type_specifier(self) -> str:
        token = self.take()
        if token.kind != "ident":
            raise Unsupported("type name expected")
        name = token.text.strip("`")
        if self.peek().text == "." and self.tokens[self.position + 1].kind == "ident":
            self.take()
            name = f"{name}.{self.take().text.strip('`')}"
        return name

    def postfix(self) -> Node:
        node = self.term()
        while True:
            token = self.peek()
            if token.text == "." and token.kind == "op":
                self.take()
                node = self.invocation(node)
            elif token.text == "[" and token.kind == "op":
                self.take()
                index = self.take()
                if index.kind != "number" or not index.text.isdigit():
                    raise Unsupported("only constant indexes")
                self.expect("]")
                node = Index(node, int(index.text))
            else:
                return node

    def term(self) -> Node:
        token = self.peek()
        if token.kind == "string":
            self.take()
            return Literal(_unquote(token.text))
        if token.kind == "number":
            self.take()
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "ident" and token.text in ("true", "false"):
            self.take()
            return Literal(token.text == "true")
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "ident":
            return self.invocation(None)
        raise Unsupported(f"unexpected {token.text!r} at {token.start}")

    def invocation(self, target: Node | None) -> Node:
        token = self.take()
        if token.kind != "ident":
            raise Unsupported(f"name expected at {token.start}")
        name = token.text.strip("`")
        if self.peek().text == "(" and self.peek().kind == "op" and not token.text.startswith("`"):
            self.take()
            args: list[Node] = []
            if self.peek().text != ")":
                # ofType(X), as(X), is(X) take a type, not an expression
                if name in ("ofType", "as", "is"):
                    args.append(Literal(self.type_specifier()))
                else:
                    args.append(self.expression())
                    while self.peek().text == ",":
                        self.take()
                        args.append(self.expression())
            self.expect(")")
            return Call(target, name, tuple(args))
        return Member(target, name)


def parse(text: str) -> Node:
    """The tree of one FHIRPath expression; raises Unsupported outside the subset."""
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek().kind != "end":
        raise Unsupported(f"unexpected {parser.peek().text!r} at {parser.peek().start}")
    return node


def union_branches(text: str) -> list[str]:
    """The texts of the top-level operands of `|` (the whole text when there is no union).

    Search expressions list one path per resource type (`Account.subject | Basic.subject`),
    so each branch can be compiled, or handed to fhirpathpy, on its own. The text is only
    split where `|` is the weakest operator at the top level.
    """
    try:
        tokens = tokenize(text)
    except Unsupported:
        return [text]
    depth = 0
    cuts: list[int] = []
    for token in tokens:
        if token.kind == "op" and token.text in ("(", "["):
            depth += 1
        elif token.kind == "op" and token.text in (")", "]"):
            depth -= 1
        elif depth == 0 and token.text in _PRECEDENCE and token.kind in ("op", "ident"):
            if token.text == "|":
                cuts.append(token.start)
            elif _PRECEDENCE[token.text] < _PRECEDENCE["|"]:
                return [text]
    if not cuts:
        return [text]
    bounds = [-1, *cuts, len(text)]
    return [text[bounds[i] + 1 : bounds[i + 1]].strip() for i in range(len(bounds) - 1)]
