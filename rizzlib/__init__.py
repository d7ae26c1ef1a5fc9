"""rizzlib: the code behind the rizzlib course book.

One subpackage per chapter (``rizzlib.primer``, ``rizzlib.jax2d``, ``rizzlib.mazes``, ...) and the
shared pieces in ``rizzlib.core``. Importing ``rizzlib`` is cheap: chapter subpackages pull in JAX or
torch only when they are imported.
"""

__version__ = "0.1.0"

#: Where the book and the notebooks live; the Colab badges and install cells point here.
REPOSITORY = "https://github.com/rizzlib/rizzlib"
