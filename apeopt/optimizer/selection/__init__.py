"""Selection: the acceptance rule (a credible paired gain on dev, :mod:`.rule`; rules by name in
:mod:`.acceptance`), the incumbent and its record (:mod:`.incumbency`), and which entries cut early are finished on all of dev (:mod:`.finishing`)."""

__all__ = ["acceptance", "finishing", "incumbency", "rule"]
