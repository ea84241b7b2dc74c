"""A quiet HiGHS instance: HiGHS 1.16 prints its banner on stdout when the first ``Highs``
object of a process is constructed, before any option can be set; that line would land in
every CLI output and notebook. It is written once per process, so the first construction
happens with the C-level stdout pointed at /dev/null."""

from __future__ import annotations

import os
import sys

_banner_done = False


def new_highs():
    """A ``highspy.Highs`` with ``output_flag`` off (and the process's banner swallowed)."""
    global _banner_done
    import highspy

    if not _banner_done:
        _banner_done = True
        try:
            sys.stdout.flush()
            fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
                h = highspy.Highs()
            finally:
                os.dup2(saved, fd)
                os.close(saved)
                os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real file descriptor (embedded interpreters)
            h = highspy.Highs()
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h
