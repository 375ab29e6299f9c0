"""JSON and YAML from files someone else wrote, parsed within bounds.

A 1.9 KB YAML file with aliases nine levels deep expands to a billion nodes when anything walks it
(json.dumps in export passed 4 GB), and a JSON file of 300,000 nested `[` overflows Python's stack
("RecursionError ... a bug"). Both are refused in one line before anything large is built:
- JSON: the nesting depth is counted on the raw text (strings skipped) before `json.loads`;
- YAML: a SafeLoader whose composer counts the depth as it descends and, for every alias, the
  nodes the alias would expand to (a few aliases in a real config are fine; a bomb is not);
- both: at most MAX_BYTES of text.
`InputError` names the file (and the member of a bundle) and the limit.
"""

from __future__ import annotations

import json
import os
import re
import stat

import yaml

from patch2loc.errors import InputError

MAX_BYTES = 1 << 20  # a run's config.resolved.yaml is about 3 kB, a bundle's settings.json 1 kB
MAX_DEPTH = 32  # nesting of lists and mappings (a run's config: 4)
MAX_NODES = 100_000  # YAML nodes after alias expansion (a run's config: about 300)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def read_bounded(path: str | os.PathLike, what: str, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes: a regular file of at most `max_bytes`, checked before and while reading (a FIFO
    would block, /dev/zero never ends, a 1 GB sparse file is refused from its size, never read whole).
    FileNotFoundError passes through (the caller says what to do about a missing file)."""

    def crafted(problem: str) -> InputError:
        return InputError(f"{path}: {what} {problem}; nothing was parsed. The file is corrupt or crafted: replace it.")

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise crafted("is not a regular file (a device, a pipe or a folder)")
        if info.st_size > max_bytes:
            raise crafted(f"is {info.st_size:,} bytes, more than the {max_bytes:,} such a file holds")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or type(exc).__name__}).") from None
    if len(data) > max_bytes:  # grew while we looked
        raise crafted(f"holds more than the {max_bytes:,} bytes such a file holds")
    return data


def _text(data: bytes | str, where: str) -> bytes:
    data = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{where}: {len(data):,} bytes, more than the {MAX_BYTES:,} such a file ever holds; "
            "nothing was parsed. The file is corrupt or crafted."
        )
    return data


def _too_deep(where: str) -> InputError:
    return InputError(
        f"{where}: nested more than {MAX_DEPTH} levels deep (such a file has a few); nothing was "
        "parsed. The file is corrupt or crafted."
    )


def json_depth(data: bytes) -> int:
    """The deepest nesting of [ and { in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", data)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def load_json(data: bytes | str, where: str):
    """json.loads of `data` (text or bytes), bounded in size and depth; ValueError for bad JSON
    (the caller says what the file should be), InputError for a file beyond the bounds."""
    data = _text(data, where)
    if json_depth(data) > MAX_DEPTH:
        raise _too_deep(where)
    return json.loads(data.decode("utf-8"))


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and aliases that expand past MAX_NODES nodes."""

    def __init__(self, stream, where: str):
        super().__init__(stream)
        self._where, self._depth, self._sizes, self._expanded = where, 0, {}, 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._count(node)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _too_deep(self._where)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        root = super().compose_document()
        self._expanded, self._sizes = 0, {}  # sizes counted while the document was open may be partial
        self._count(root)  # the whole document once more: an alias to an enclosing node is a cycle
        return root

    def _count(self, root) -> int:
        """Nodes under `root` with aliases expanded (memoised per node; a cycle is refused)."""
        stack, open_, sizes = [(root, False)], set(), self._sizes
        while stack:
            node, done = stack.pop()
            if done:
                open_.discard(id(node))
                sizes[id(node)] = 1 + sum(sizes[id(c)] for c in _children(node))
                continue
            if id(node) in sizes:
                continue
            if id(node) in open_:
                raise InputError(
                    f"{self._where}: a YAML alias refers to itself; nothing was read. The file is corrupt or crafted."
                )
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
        total = sizes[id(root)]
        self._expanded += total
        if self._expanded > MAX_NODES:
            raise InputError(
                f"{self._where}: its YAML aliases expand to more than {MAX_NODES:,} values (a config "
                "has a few hundred); nothing was read. The file is corrupt or crafted."
            )
        return total


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(data: bytes | str, where: str):
    """yaml.safe_load of `data`, bounded in size, depth and alias expansion; yaml.YAMLError for
    bad YAML, InputError for a file beyond the bounds."""
    data = _text(data, where)
    loader = _BoundedLoader(data.decode("utf-8"), where)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
