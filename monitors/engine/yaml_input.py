"""Reading a YAML configuration file without trusting it: bounded size, nesting and alias expansion.

PyYAML's safe loader builds aliased nodes once, but everything that walks the result afterwards
(interpolation, validation) visits each alias again: a "billion laughs" document of a few hundred
bytes expands to 10^9 values and eats memory until the process is killed, and 50,000 nested brackets
overflow Python's stack. Each of these, a key given twice in one mapping (PyYAML would keep the last
without a word), a file that is not UTF-8, and a file too large to be a config become one
`file: reason` line (a ConfigError: exit 2), before any of that work starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitors.contracts.errors import ConfigError

MAX_FILE_BYTES = 1_000_000  # a monitors.yaml is a few kB; anything this big is a mistake
MAX_DEPTH = 50  # levels of nesting; real files use under 10
MAX_NODES = 100_000  # values after expanding aliases (a "billion laughs" document expands to 10^9)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested too deep (before Python's recursion limit would)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys without a word: a second `store:` section would
        # silently drop the first one's URL and send the runs to the default store.
        first_line: dict[tuple[str, Any], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges are meant to be overridden by the keys beside them
            key = (key_node.tag, key_node.value)
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first on line {first_line[key]}); "
                    "the later one would silently replace it",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _TooBig(Exception):
    pass


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values in `node` once every alias is expanded (each alias counts its whole target again), which is
    what interpolation walks; computed once per node, so a small document cannot make this slow."""
    key = id(node)
    if key in sizes:
        if sizes[key] < 0:
            raise _TooBig("an alias refers to a node that contains it")
        return sizes[key]
    sizes[key] = -1
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[key] = size
    if size > MAX_NODES:
        raise _TooBig(f"expands to more than {MAX_NODES:,} values through aliases")
    return size


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with bounded size, depth and alias expansion; every problem is a ConfigError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; not a configuration file")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        _expanded_size(node, {})
        return loader.construct_document(node) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except _TooBig as exc:
        raise ConfigError(f"{path}: YAML refused: {exc}") from None
    finally:
        loader.dispose()
