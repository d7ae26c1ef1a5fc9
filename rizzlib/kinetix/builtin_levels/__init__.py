"""Our own levels, stored in the kinetix-env JSON format (see :mod:`rizzlib.kinetix.builtin`)."""
