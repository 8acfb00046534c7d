#!/usr/bin/env python3
"""Recomputes `topsellers serve`'s A/B assignments from the README's words
(README, "A/B split"), with nothing but the standard library, and checks
them against assignments that serve made.

    ab_assign.py --salt SALT --arms fast=10,default=80,slow=10 FILE
    ab_assign.py --salt SALT --arms ... --user ID [--user ID ...]

FILE holds one `user,arm` line per user, as serve answered (a header line
`user,arm` is allowed); the check exits 1 naming the first user whose arm
differs. With --user, prints `user,bucket,arm` for each user instead (what
an analysis job would compute to join exposures to orders).

The function, as the README gives it:

1. digest = SHA-256 of the UTF-8 bytes of salt + ":" + user id;
2. bucket = the first 8 bytes of the digest as a big-endian unsigned
   integer, modulo 10000;
3. the arms take consecutive ranges of buckets in the order written, each
   weight x 100 buckets wide.
"""

import argparse
import csv
import hashlib
import sys
from decimal import Decimal


def bucket(salt: str, user: str) -> int:
    digest = hashlib.sha256((salt + ":" + user).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 10000


def parse_arms(text: str) -> list[tuple[str, int]]:
    arms = []
    for pair in text.split(","):
        name, weight = pair.split("=")
        arms.append((name.strip(), int(Decimal(weight) * 100)))
    if sum(w for _, w in arms) != 10000:
        sys.exit(f"the weights of {text!r} do not sum to 100")
    return arms


def arm_of(arms: list[tuple[str, int]], b: int) -> str:
    end = 0
    for name, width in arms:
        end += width
        if b < end:
            return name
    raise AssertionError("weights sum to 100")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--salt", required=True)
    p.add_argument("--arms", required=True, help="VARIANT=PERCENT,... in serve's order")
    p.add_argument("--user", action="append", default=[])
    p.add_argument("file", nargs="?")
    a = p.parse_args()
    arms = parse_arms(a.arms)
    if a.user:
        for user in a.user:
            b = bucket(a.salt, user)
            print(f"{user},{b},{arm_of(arms, b)}")
        return 0
    if not a.file:
        p.error("give FILE or --user")
    checked = 0
    with open(a.file, newline="") as f:
        for row in csv.reader(f):
            if row == ["user", "arm"]:
                continue
            user, served = row
            want = arm_of(arms, bucket(a.salt, user))
            if want != served:
                print(f"user {user!r}: serve gave arm {served!r}, the README's function gives {want!r}")
                return 1
            checked += 1
    if checked == 0:
        print(f"{a.file}: no assignments to check")
        return 1
    print(f"{checked} assignments match the README's function")
    return 0


if __name__ == "__main__":
    sys.exit(main())
