"""The exception types for bad input and for divergence: their messages are one line for the user."""


class ConfigError(ValueError):
    """A bad configuration value; ``str(error)`` is one line naming the value."""


class DivergenceError(RuntimeError):
    """Non-finite values during training; the message names the step.

    At step 0 nothing has been trained yet, so the labels themselves are at fault.
    """

    def __init__(self, step: int, what: str):
        if step > 0:
            message = (f"{what} not finite at step {step}: the run diverged; "
                       "try a smaller learning rate (train.lr.scale)")
        else:
            message = (f"{what} not finite at step 0, before any giant step: "
                       "the labels are not finite or too large; check target.expr")
        super().__init__(message)
        self.step = step
