"""The RESTful interactions, free of HTTP: what a create, update, delete or patch means.

The HTTP layer (rest/) and the batch/transaction processor both call these, so a bundle
entry behaves exactly as the same request on its own. Functions named `*_in` run inside an
open store transaction; the others open one.
"""
