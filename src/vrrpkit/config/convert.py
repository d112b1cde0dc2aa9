"""Rewrite a keepalived.conf from multicast to unicast, touching only the lines that must change.

The fix for clouds that drop multicast is `unicast_src_ip` + `unicast_peer`. keepalived refuses
unicast in strict mode, so `vrrp_strict` / `strict_mode` are commented out; and so that a host
converted today agrees with a host converted tomorrow during a rolling migration, what strict mode
did is kept explicitly: the `authentication` blocks it ignored are commented out, and
`accept`/`no_accept` is written out (strict mode meant no_accept unless priority 255).

An instance with `use_vmac` also gets `vmac_xmit_base` (keepalived 2.2.7: "unicast with use_vmac
requires vmac_xmit_base"); one with `use_ipvlan` is refused, because 2.2.7 complains with unicast
whatever is written. Every other byte of the file (comments in any language, blank lines, spacing)
is kept: the edit is line-based, driven by the positions the lexer reports. `new_errors` is the
check the CLI runs on the result before writing it: convert never writes a file that has errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address

from vrrpkit.config.diagnostics import Diagnostic, Reporter
from vrrpkit.config.lexer import Lexer, Stmt
from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import InstanceConfig, IPAddress

TAG = "vrrpkit convert"
STRICT_NOTE = f"# {TAG}: vrrp_strict commented out: keepalived rejects unicast peers in strict mode"
STRICT_MODE_NOTE = f"# {TAG}: strict_mode commented out: keepalived rejects unicast peers in strict mode"
AUTH_NOTE = f"# {TAG}: strict mode ignored this authentication block; kept off so all hosts still agree"
VMAC_NOTE = f"# {TAG}: unicast with use_vmac needs vmac_xmit_base (adverts leave by the base interface)"
MCAST_DST_NOTE = (f"# {TAG}: a multicast group means nothing to unicast peers (keepalived: 'multicast destination "
                  "specified with unicast - ignoring')")

SrcSpec = IPAddress | str | Mapping[str, "IPAddress | str"] | None


class ConvertError(ValueError):
    """The file cannot be converted as asked (missing peers or source, or a layout we cannot edit)."""


@dataclass
class _Block:
    keyword: str
    args: list[str]
    line: int
    end_line: int | None = None
    children: list[_Block] = field(default_factory=list)
    indent: str = ""


def _tree(stmts: Sequence[Stmt], lines: Sequence[str]) -> list[_Block]:
    """A generic brace tree over the statements of one file (enough to find lines to edit)."""
    root: list[_Block] = []
    stack: list[_Block] = []
    pending: _Block | None = None
    for st in stmts:
        if st.keyword == "{":
            if pending is None:
                raise ConvertError(f"line {st.line}: '{{' without a keyword; fix the file first (vrrpkit check)")
            stack.append(pending)
            pending = None
            continue
        if st.keyword == "}":
            pending = None
            if not stack:
                raise ConvertError(f"line {st.line}: extra '}}'; fix the file first (vrrpkit check)")
            stack.pop().end_line = st.line
            continue
        text = lines[st.line - 1] if st.line - 1 < len(lines) else ""
        node = _Block(st.keyword, st.args, st.line, indent=re.match(r"[ \t]*", text).group(0))  # type: ignore[union-attr]
        (stack[-1].children if stack else root).append(node)
        pending = node
    if stack:
        raise ConvertError(f"block `{stack[-1].keyword}` at line {stack[-1].line} is never closed")
    return root


def _addr(value: IPAddress | str) -> IPAddress:
    return value if not isinstance(value, str) else ip_address(value)


def parse_peers(values: Sequence[str]) -> list[IPAddress]:
    """`--peer A --peer B,C` -> [A, B, C]; raises ValueError naming a bad address."""
    out: list[IPAddress] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part:
                try:
                    out.append(ip_address(part))
                except ValueError:
                    raise ValueError(f"not an IP address: {part!r}") from None
    return out


def to_unicast(
    text: str,
    peers: Sequence[IPAddress | str],
    src: SrcSpec = None,
    filename: str = "keepalived.conf",
    config_id: str | None = None,
) -> str:
    """Return `text` converted to unicast. `src` is one address, or a map interface -> address (the host's
    primary addresses), or None to keep each instance's existing unicast_src_ip."""
    from vrrpkit.config import load_string

    peer_addrs = [a for p in peers for a in (parse_peers([p]) if isinstance(p, str) else [p])]
    if not peer_addrs:
        raise ConvertError("no peers given: name the other hosts with --peer IP (repeatable, or comma-separated)")
    result = load_string(text, filename=filename, config_id=config_id, loader=lambda _p: None)
    instances = {i.name: i for i in result.instances}
    lines = text.splitlines(keepends=True)
    plain = [ln.rstrip("\r\n") for ln in lines]
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    stmts = [s for s in Lexer(Reporter(), lambda _p: None, config_id).statements(text, filename) if s.file == filename]
    tree = _tree(stmts, plain)

    comment: dict[int, str | None] = {}  # line -> note to put above (None: no note)
    insert_before: dict[int, list[str]] = {}

    def comment_out(first: int, last: int, note: str | None) -> None:
        for n in range(first, last + 1):
            comment.setdefault(n, note if n == first else None)

    global_strict = False
    for node in tree:
        if node.keyword == "global_defs":
            for child in node.children:
                if child.keyword == "vrrp_strict" and (not child.args or child.args[0] in ("on", "true", "yes")):
                    global_strict = True
                    _single_line(child, plain)
                    comment_out(child.line, child.line, STRICT_NOTE)

    converted = 0
    for node in tree:
        if node.keyword != "vrrp_instance" or not node.args:
            continue
        name = node.args[0]
        inst = instances.get(name)
        if inst is None:
            errs = "; ".join(str(d) for d in result.errors) or "it does not parse"
            raise ConvertError(f"vrrp_instance {name} cannot be converted: {errs}")
        if node.end_line is None or node.end_line == node.line:
            raise ConvertError(f"vrrp_instance {name}: its closing '}}' must be on a line of its own")
        if plain[node.end_line - 1].strip().split("#")[0].split("!")[0].strip() != "}":
            raise ConvertError(f"vrrp_instance {name}: line {node.end_line} holds more than its closing '}}'")
        family = inst.family
        source = _source_for(inst, src)
        if source is None:
            if family == 6:
                raise ConvertError(f"vrrp_instance {name} is IPv6 and has no source address: give --src with an "
                                   f"IPv6 address of this host (its link-local or global address)")
            raise ConvertError(f"vrrp_instance {name}: no source address; give --src IP (the address of "
                               f"interface {inst.interface or '?'} on this host)")
        if source.version != family:
            raise ConvertError(f"vrrp_instance {name} is IPv{family} but the source {source} is IPv{source.version}")
        mine = [p for p in peer_addrs if p.version == family and p != source]
        if not mine:
            raise ConvertError(f"vrrp_instance {name}: no IPv{family} peer other than this host ({source}); "
                               f"give the other hosts with --peer")
        if _has(node, "use_ipvlan"):
            raise ConvertError(f"vrrp_instance {name} uses use_ipvlan: keepalived 2.2.7 rejects it with unicast "
                               f"peers ('unicast with use_vmac requires vmac_xmit_base', then 'vmac_xmit_base is only "
                               f"valid with a vmac'); convert it by hand, or drop use_ipvlan first")
        body_indent = next((c.indent for c in node.children), node.indent + "    ")
        step = body_indent[len(node.indent):] or "    "
        strict = inst.strict or (global_strict and not _has(node, "strict_mode"))
        for child in node.children:
            if child.keyword in ("unicast_src_ip", "unicast_peer"):
                _single_line(child, plain, allow_block=child.keyword == "unicast_peer")
                comment_out(child.line, child.end_line or child.line,
                            f"# {TAG}: replaced below" if child.keyword == "unicast_src_ip" else None)
            elif child.keyword == "mcast_dst_ip":
                _single_line(child, plain)
                comment_out(child.line, child.line, MCAST_DST_NOTE)
            elif child.keyword == "strict_mode":
                _single_line(child, plain)
                comment_out(child.line, child.line, STRICT_MODE_NOTE)
            elif child.keyword == "authentication" and strict:
                _single_line(child, plain, allow_block=True)
                comment_out(child.line, child.end_line or child.line, AUTH_NOTE)
        added = [f"{body_indent}# {TAG}: unicast instead of multicast (clouds drop multicast)"]
        if strict and not (_has(node, "accept") or _has(node, "no_accept")):
            keep = "accept" if inst.priority == 255 else "no_accept"
            added.append(f"{body_indent}# {TAG}: strict mode implied {keep}; `accept` lets the VIP answer traffic")
            added.append(f"{body_indent}{keep}")
        if _has(node, "use_vmac") and not _has(node, "vmac_xmit_base"):
            added += [f"{body_indent}{VMAC_NOTE}", f"{body_indent}vmac_xmit_base"]
        added.append(f"{body_indent}unicast_src_ip {source}")
        added.append(f"{body_indent}unicast_peer {{")
        added.extend(f"{body_indent}{step}{p}" for p in mine)
        added.append(f"{body_indent}}}")
        insert_before.setdefault(node.end_line, []).extend(added)
        converted += 1
    if not converted:
        raise ConvertError("no vrrp_instance in this file to convert")

    out: list[str] = []
    for n, raw in enumerate(lines, start=1):
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        for extra in insert_before.get(n, []):
            out.append(extra + newline)
        if n in comment:
            indent = re.match(r"[ \t]*", body).group(0)  # type: ignore[union-attr]
            note = comment[n]
            if note:
                out.append(f"{indent}{note}{newline}")
            out.append(f"{indent}# {body[len(indent):]}{ending or newline}")
        else:
            out.append(raw)
    return "".join(out)


def _has(node: _Block, keyword: str) -> bool:
    return any(c.keyword == keyword for c in node.children)


def _single_line(node: _Block, plain: Sequence[str], allow_block: bool = False) -> None:
    """Refuse to comment out a line that also holds something else (we would comment that out too)."""
    text = plain[node.line - 1].strip()
    if not text.startswith(node.keyword):
        raise ConvertError(f"line {node.line}: `{node.keyword}` shares its line with other settings; "
                           f"put it on its own line first")
    if node.children and not allow_block:
        raise ConvertError(f"line {node.line}: unexpected block after `{node.keyword}`")
    if allow_block and node.end_line is not None and node.end_line != node.line:
        last = plain[node.end_line - 1].strip()
        if not last.startswith("}") or last[1:].strip()[:1] not in ("", "#", "!"):
            raise ConvertError(f"line {node.end_line}: the '}}' closing `{node.keyword}` shares its line")


def _source_for(inst: InstanceConfig, src: SrcSpec) -> IPAddress | None:
    if src is None:
        return inst.unicast_src_ip
    if isinstance(src, Mapping):
        key = inst.interface if inst.family == 4 else f"{inst.interface}/6"  # IPv6 sources under "IF/6"
        value = src.get(key)
        return _addr(value) if value is not None else inst.unicast_src_ip
    return _addr(src)


def new_errors(before: ParseResult, after: ParseResult) -> tuple[list[Diagnostic], int]:
    """The converted file's errors, and how many of them the input already had (same rule and
    message): the CLI writes nothing when there is any, and says which are the input's to fix."""
    had = {(d.rule, d.message) for d in before.errors}
    errors = list(after.errors)
    return errors, sum(1 for d in errors if (d.rule, d.message) in had)
