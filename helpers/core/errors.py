"""One exception type for every mistake a reader can fix (CONTRIBUTING.md, "Errors")."""


class ReproError(RuntimeError):
    """A clear, single-sentence error: what is wrong and what to do about it."""
