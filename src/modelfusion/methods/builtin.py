"""Import every built-in method module so each registers itself."""

from modelfusion.methods import linear, slerp  # noqa: F401
