"""The one exception type for bad input: its message is a single line for the user."""


class ConfigError(ValueError):
    """A bad configuration value; ``str(error)`` is one line naming the value."""


class DivergenceError(RuntimeError):
    """Non-finite values during training; the message names the step."""

    def __init__(self, step: int, what: str):
        super().__init__(
            f"{what} not finite at step {step}: the run diverged; "
            "try a smaller learning rate (train.lr.scale)"
        )
        self.step = step
