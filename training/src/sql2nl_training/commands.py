"""Click commands contributed by the training subpackage (filled by the training issue)."""


def register(cli) -> None:
    pass
