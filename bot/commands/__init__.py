"""Slash commands on PRs and MRs (`/trustacks ...`): a pure parser and a dispatcher.

`parse` (in `parser.py`) turns comment text into commands, a reply or "ignore" without I/O;
`handle_comment` (in `dispatch.py`) checks who may run what on which PR, acknowledges, runs each
command through the same pipeline and engines the handlers use, and posts the replies.
"""

from bot.commands.parser import Command, CommandName, Ignore, Reply, parse

__all__ = ["Command", "CommandName", "CommentContext", "Ignore", "Reply", "handle_comment", "parse"]


def __getattr__(name: str):  # the dispatcher imports the pipeline; the parser alone stays import-light
    if name in ("CommentContext", "handle_comment"):
        from bot.commands import dispatch

        return getattr(dispatch, name)
    raise AttributeError(name)
