"""Errors raised while applying a patch."""

from __future__ import annotations


class PatchError(ValueError):
    """The patch could not be applied; nothing of it was applied."""


class MalformedPatchError(PatchError):
    """The patch document itself is not well-formed (wrong structure, unknown operation).

    A subclass of `PatchError`, so catching `PatchError` catches both; catch this one first
    to answer 400 instead of 422.
    """
