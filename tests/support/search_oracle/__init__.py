"""A test oracle for FHIR R4 search: the matching rules of search.html, in memory.

It reads resources as JSON and the official SearchParameter definitions from the R4 core
package, and answers "which ids match these criteria?" without any code of the server's
search (no indexer, criteria parser, plan or SQL). It is written to be obviously right,
not fast: each criterion is checked against each resource of the type.
"""

from tests.support.search_oracle.evaluator import Oracle, OracleUnsupported

__all__ = ["Oracle", "OracleUnsupported"]
