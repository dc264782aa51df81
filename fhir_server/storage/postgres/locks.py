"""Keys of the transaction-scoped advisory locks that serialise jobs across processes.

Jobs run in READ COMMITTED transactions. What must not race is made to queue on a lock
held until commit, and what is read after the lock is granted sees what the previous
holder committed:

- a resource's identity (type/id): taken by every read and write of a job
  (fhir_lock_current), so If-Match checks, version numbers and read-modify-write jobs are
  serial per resource, in every process;
- a search's criteria (type + the parsed, normalised clauses): taken by `find`, so two
  conditional creates (or updates) with the same criteria run one after the other and
  the second finds what the first created;
- the seq holders' lock, SEQ_HOLDERS: taken *shared* by every transaction before it draws
  a version seq (statements.write_statement, bulk loads), so the transactions that may still
  commit a seq are exactly those listed as holding it in pg_locks (postgres/outbox.py).
  Nobody takes it exclusively: holders never wait on it. It is the two-int4 form of an
  advisory key (objsubid 2 in pg_locks), apart from the bigint keys above (objsubid 1).

Chosen over SERIALIZABLE with retries: SSI's predicate locks on indexes are page-granular,
so concurrent creates of unrelated resources whose keys share an index page can abort
each other, and a retried job runs twice; these locks block only jobs that touch the same
resource or the same criteria, and need no retry. What they do not cover: a conditional
create and a plain create (or one with other criteria) of a matching resource at the same
moment may both store one.
"""

from __future__ import annotations

import hashlib

from fhir_server.search.plan import Plan

# pg_advisory_xact_lock_shared(int4, int4): "FHIR" and 1
SEQ_HOLDERS = (0x46484952, 1)
TAKE_SEQ_HOLDERS = f"pg_advisory_xact_lock_shared({SEQ_HOLDERS[0]}, {SEQ_HOLDERS[1]})"


def lock_key(kind: str, text: str) -> int:
    """A signed 64-bit key (pg_advisory_xact_lock's bigint) from a stable hash."""
    digest = hashlib.blake2b(f"{kind}\x1f{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def resource_key(resource_type: str, rid: str) -> int:
    return lock_key("resource", f"{resource_type}/{rid}")


def criteria_key(plan: Plan) -> int:
    """The same key for criteria that parse to the same clauses, in any order."""
    clauses = sorted(repr(clause) for clause in plan.clauses)
    return lock_key("criteria", plan.resource_type + "\x1e" + "\x1e".join(clauses))
