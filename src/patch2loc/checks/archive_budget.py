"""What unpacking an archive may write, judged from what its directory declares, before anything is written.

Shared by the model bundles (`bundle/members.py`: limits from the environment) and the downloaded
archives (`data/unpack.py`: the IXI tarballs, the SRI24 and HD-BET zips; limits from the config's
`extract` block). A zip member never inflates past the size its directory declares (zipfile stops
there and the CRC check fails), and a tar member's data is exactly the size its header declares,
so the declared sizes bound what would be written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from patch2loc.errors import InputError

MB = 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """The most members, bytes of one member and bytes in all an archive may declare."""

    members: int
    member_bytes: int
    total_bytes: int


def check_count(where, count: int, limit: int, refused: str, how: str) -> None:
    if count > limit:
        raise InputError(f"{where}: the archive lists more than {limit:,} members (the limit); {refused}. {how}")


def check_member(where, name: str, size: int, limit: int, refused: str, how: str) -> None:
    if size > limit:
        raise InputError(
            f"{where}: the member {name} declares {size / MB:,.1f} MB, more than the limit of "
            f"{limit / MB:,.1f} MB; {refused}. {how}"
        )


def check_total(where, total: int, limit: int, refused: str, how: str) -> None:
    if total > limit:
        raise InputError(
            f"{where}: its members declare {total / MB:,.0f} MB in all, more than the limit of "
            f"{limit / MB:,.0f} MB; {refused}. {how}"
        )


def check_members(where, members: Iterable[tuple[str, int]], budget: Budget, refused: str, how: str) -> int:
    """Walk (name, declared size) pairs, stopping at the first that breaks the budget (a tar's
    headers are read one by one, so a huge member is refused before its data is skipped);
    return the total."""
    count = total = 0
    for name, size in members:
        count += 1
        check_count(where, count, budget.members, refused, how)
        check_member(where, name, size, budget.member_bytes, refused, how)
        total += size
        check_total(where, total, budget.total_bytes, refused, how)
    return total
