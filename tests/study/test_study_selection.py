"""The flagship synthetic study (adopters selected on high and rising rates) carries
the selection-on-the-outcome caution on its DiD analyses (issue 14)."""

from __future__ import annotations

from impact.study.runner import StudyRun


def test_flagship_carries_the_selection_caution(flagship_run: StudyRun) -> None:
    analyses = flagship_run.results["analyses"]
    for name in ("twfe", "cs", "sunab", "matched_did"):
        sel = analyses[name]["diagnostics"]["selection"]
        assert sel["flagged"] is True and sel["pvalue"] < 0.05, name
        text = [
            w for w in analyses[name]["warnings"] if w.startswith("Selection on the")
        ]
        assert len(text) == 1, name
        assert "regression to the mean" in text[0]
        # both the level (p 0.005) and the trend (p 0.021) of the 20 adopters are
        # extreme against the 130 comparison authorities
        assert "was higher than" in text[0] and "rose faster than" in text[0]
