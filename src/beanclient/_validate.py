"""Client-side checks of arguments the server would reject, run before anything is sent.

They matter beyond nicer messages: a ``put`` line the server rejects with BAD_FORMAT leaves the body
unread, and the server then parses the body as commands (docs/protocol.md §2.5), so the
connection would be out of step for good.
"""

from __future__ import annotations

from ._errors import BodyTooBigError, InvalidTubeNameError, OutOfRangeError

U32_MAX = 2**32 - 1
MAX_TUBE_NAME = 200

# docs/protocol.md §2.4.
TUBE_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()"


def check_tube(tube: str) -> bytes:
    """Return the tube name as wire bytes, or raise ``InvalidTubeNameError``."""
    if not isinstance(tube, str):
        raise TypeError(f"tube name must be a str, not {type(tube).__name__}")
    # strip() with a character set removes every allowed character from both ends; whatever is left
    # starts with a character that is not allowed. One C call, no regex.
    if not 0 < len(tube) <= MAX_TUBE_NAME or tube.strip(TUBE_NAME_CHARS) or tube[0] == "-":
        raise InvalidTubeNameError(_tube_problem(tube))
    return tube.encode("ascii")


def _tube_problem(tube: str) -> str:
    if not tube:
        return "invalid tube name '': it must be 1 to 200 characters long"
    if len(tube) > MAX_TUBE_NAME:
        return f"invalid tube name {tube[:20]!r}... ({len(tube)} characters): the limit is 200"
    if tube[0] == "-":
        return f"invalid tube name {tube!r}: it must not start with '-'"
    bad = sorted({c for c in tube if c not in TUBE_NAME_CHARS})
    return f"invalid tube name {tube!r}: {''.join(bad)!r} not allowed (only A-Za-z0-9-+/;.$_())"


def range_error(name: str, value: object) -> OutOfRangeError:
    return OutOfRangeError(f"{name} must be an integer from 0 to {U32_MAX}, got {value!r}")


def check_u32(name: str, value: int) -> None:
    if not 0 <= value <= U32_MAX:
        raise range_error(name, value)


def check_put_args(priority: int, delay: int, ttr: int) -> None:
    # The chained form keeps the common (valid) case to three comparisons pairs.
    if not (0 <= priority <= U32_MAX and 0 <= delay <= U32_MAX and 0 <= ttr <= U32_MAX):
        check_u32("priority", priority)
        check_u32("delay", delay)
        check_u32("ttr", ttr)


def body_too_big(size: int, limit: int) -> BodyTooBigError:
    return BodyTooBigError(f"job body is {size} bytes, the server's max-job-size is {limit}")
