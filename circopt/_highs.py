"""A quiet HiGHS instance.

highspy 1.16 prints its banner ("Running HiGHS ...") on stdout the first time a ``Highs`` object of a
process switches its callbacks on, which ``Highs.__init__`` does before any option can be set; that
line would land in every CLI output and notebook. The subclass below sets ``output_flag`` off at that
very moment (its ``enableCallbacks`` runs first inside the constructor), so nothing is printed and no
file descriptor of the process is touched.
"""

from __future__ import annotations

_Quiet = None


def _quiet_class():
    global _Quiet
    if _Quiet is None:
        import highspy

        class QuietHighs(highspy.Highs):
            """``highspy.Highs`` with ``output_flag`` off from its construction on."""

            _silenced = False

            def enableCallbacks(self):  # noqa: N802 - highspy's name
                if not self._silenced:
                    self._silenced = True
                    self.setOptionValue("output_flag", False)
                return super().enableCallbacks()

        _Quiet = QuietHighs
    return _Quiet


def new_highs():
    """A ``highspy.Highs`` with ``output_flag`` off (no banner, no log on the console)."""
    h = _quiet_class()()
    h.setOptionValue("output_flag", False)
    return h
