"""The user's mistakes: one exception type for them, and argparse's refusals said as one of them.

A script's main turns a UserError into one line and exit 2; anything else that goes wrong is a bug
and keeps its traceback. UserError is a ValueError, so code that catches ValueError (a user's script
calling losses.get_loss) still catches it.
"""
import argparse
import difflib
import re
import sys


class UserError(ValueError):
    """Bad input or a state the user can fix: the message names the problem and the fix."""


class Refused(SystemExit):
    """The exit of a refused script: code 2 (130 for an interruption); message is the line it printed."""

    def __init__(self, message, code=2):
        super().__init__(code)
        self.message = message


def die(message, code=2):
    """End a refused script: one line on stderr, exit 2 (every refusal's code), no traceback."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise Refused(f"error: {message}", code)


def nearest(word, choices):
    """' (did you mean X?)' for the closest of choices to a mistyped word, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class Parser(argparse.ArgumentParser):
    """argparse whose refusals are a UserError of one line (its own are a usage block, then exit 2), with the
    nearest valid name where a choice or a flag was mistyped. No abbreviated flags: --ou is not --out."""

    def __init__(self, *args, **kw):
        super().__init__(*args, allow_abbrev=False, **kw)

    def error(self, message):
        bad = re.search(r"invalid choice: '(.*?)' \(choose from (.*)\)", message)
        if bad:
            message += nearest(bad[1], re.findall(r"'(.*?)'", bad[2]))
        flag = re.search(r"unrecognized arguments: (--?[\w-]+)", message)
        if flag:
            message += nearest(flag[1], [o for a in self._actions for o in a.option_strings])
        raise UserError(f"{message}; see {self.prog} --help")
