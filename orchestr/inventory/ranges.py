"""Expand Ansible host ranges such as web[01:10], db-[a:f] and node[1:10:2] into host names."""

from __future__ import annotations

import string


class RangeError(ValueError):
    """A host range that Ansible would refuse; the caller adds the file and line."""


def has_range(name: str) -> bool:
    """Whether a host name contains a range; Ansible only looks for an opening bracket."""
    return "[" in name


def expand_host_range(name: str) -> list[str]:
    """Expand every [begin:end(:step)] in a host name, left to right, as a cross product."""
    # Ansible cuts at the first '[' and then at the first ']' anywhere in the name, and refuses
    # anything else (a stray '|' included, since it uses '|' as the cut marker internally).
    marked = name.replace("[", "|", 1).replace("]", "|", 1)
    parts = marked.split("|")
    if len(parts) != 3:
        raise RangeError(
            f"invalid host range in {name!r}: expected one [begin:end] per bracket pair"
        )
    head, spec, tail = parts
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError("host range must be begin:end or begin:end:step")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise RangeError("host range must specify end value")

    width = 0
    if begin[0] == "0" and len(begin) > 1:
        # A leading zero asks for zero padding, which only makes sense with equal widths.
        width = len(begin)
        if width != len(end):
            raise RangeError("host range must specify equal-length begin and end formats")

    try:
        step = int(step_text)
    except ValueError as error:
        raise RangeError(f"host range step is not a number: {step_text!r}") from error

    items: list[str]
    # Ansible tries letters first with a substring search in a-zA-Z, so [a:f] and even [ab:cd]
    # are letter ranges, then falls back to integers.
    letters = string.ascii_letters
    if begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise RangeError("host range must have begin <= end")
        if step == 0:
            raise RangeError("host range step must not be zero")
        items = list(letters[first : last + 1 : step])
    else:
        try:
            numbers = range(int(begin), int(end) + 1, step)
        except ValueError as error:
            raise RangeError(f"host range bounds are not numbers: [{spec}]") from error
        items = [str(n).zfill(width) if width else str(n) for n in numbers]

    names: list[str] = []
    for item in items:
        expanded = f"{head}{item}{tail}"
        if has_range(expanded):
            names.extend(expand_host_range(expanded))
        else:
            names.append(expanded)
    return names
