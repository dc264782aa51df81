"""Security: SMART on FHIR v2 scopes, bearer-token verification, the built-in authorization
server for SMART Backend Services, and the organisation access policy.

Modules: scopes (parsing, what a scope set grants), tokens (verify and mint JWTs), keys (the
server's signing key), registry (clients, used jti), endpoints (/auth/token,
/.well-known/smart-configuration, /auth/jwks), security (admitting a request), access (scope
checks, 401/403), policy (organisation-scoped visibility, protected identity), storage (the
storage port wrapped with both, plus the audit trail), commands (the CLI).
"""
