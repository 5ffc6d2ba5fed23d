"""The shell commands of README.md, for tests that run them the way a reader would.

`readme_commands()` reads the fenced blocks marked ```bash, ```sh, ```shell or ```console
and returns one ShellCommand per logical command, in README order:

- a line ending in a backslash continues on the next one; the lines are joined with a space;
- blank lines and whole-line comments are skipped, and a trailing comment (` # ...` outside
  quotes) is cut off;
- in a ```console block only the lines after a `$ ` prompt are commands (the rest is output),
  and a block without any prompt is taken as output only.

Heredocs and multi-line quoted strings are not understood: the README has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<language>[\w+-]*)")


@dataclass(frozen=True)
class ShellCommand:
    """One command as a reader would type it, and where it stands in the README."""

    text: str
    line: int  # 1-based line of the README where the command starts
    language: str

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text}"


def strip_comment(line: str) -> str:
    """`line` without a trailing `# comment` (a `#` at a word start, outside quotes)."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def _command_lines(lines: list[tuple[int, str]], language: str):
    """The (number, text) lines that hold commands: in a console block, the prompted ones."""
    continuing = False
    for number, text in lines:
        if language == "console":
            stripped = text.lstrip()
            if continuing and stripped.startswith("> "):
                text = stripped[2:]
            elif not continuing:
                if not stripped.startswith("$ "):
                    continue
                text = stripped[2:]
        yield number, text
        continuing = text.rstrip().endswith("\\")


def _block_commands(lines: list[tuple[int, str]], language: str) -> list[ShellCommand]:
    commands: list[ShellCommand] = []
    pending: list[str] = []
    start = 0
    for number, raw in _command_lines(lines, language):
        text = raw.strip()
        if not pending:
            if not text or text.startswith("#"):
                continue
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1].strip())
            continue
        pending.append(text)
        command = strip_comment(" ".join(part for part in pending if part))
        pending = []
        if command:
            commands.append(ShellCommand(command, start, language))
    if pending:
        commands.append(ShellCommand(strip_comment(" ".join(pending)), start, language))
    return commands


def readme_commands(path: Path = README) -> list[ShellCommand]:
    """Every shell command of the README's fenced shell blocks, in order."""
    commands: list[ShellCommand] = []
    fence = language = None
    block: list[tuple[int, str]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fence is None:
            opening = FENCE.match(line)
            if opening:
                fence, language, block = opening["fence"], opening["language"].lower(), []
            continue
        if line.strip().startswith(fence):
            if language in SHELL_LANGUAGES:
                commands.extend(_block_commands(block, language))
            fence = None
            continue
        block.append((number, line))
    return commands


def readme_command(containing: str, path: Path = README) -> ShellCommand:
    """The one README command whose text contains `containing` (AssertionError otherwise)."""
    found = [command for command in readme_commands(path) if containing in command.text]
    assert len(found) == 1, (
        f"expected one README command containing {containing!r}, found {len(found)}: "
        + "; ".join(map(str, found))
    )
    return found[0]
