"""China's Unified Social Credit Code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z);
the last is a check character: weights 3**i mod 31, check = 31 - (sum mod 31), 31 -> 0.
"""

from django.core.exceptions import ValidationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LENGTH = 18
_WEIGHTS = [pow(3, i, 31) for i in range(USCC_LENGTH - 1)]


def uscc_check_character(first_17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(
        USCC_ALPHABET.index(char) * weight for char, weight in zip(first_17, _WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """What is wrong with a code, or None when it is a valid USCC."""
    if len(code) != USCC_LENGTH:
        return (
            f"A Unified Social Credit Code has {USCC_LENGTH} characters; this one has {len(code)}."
        )
    bad = sorted({char for char in code if char not in USCC_ALPHABET})
    if bad:
        return (
            f"Characters {''.join(bad)!r} are not used in a Unified Social Credit Code "
            "(digits and capitals other than I, O, S, V, Z)."
        )
    expected = uscc_check_character(code[:-1])
    if code[-1] != expected:
        return f"The check character is wrong: expected {expected!r}, got {code[-1]!r}."
    return None


def validate_uscc(code: str) -> None:
    """Django validator form of `uscc_problem`."""
    problem = uscc_problem(code)
    if problem:
        raise ValidationError(problem, code="invalid_uscc")
