"""Subscriptions: topic-based (Subscriptions R5 Backport IG on R4) and classic R4 criteria.

The outbox (written in each change's own transaction) is the only source of events:

    outbox → matcher.py (topics.py triggers, criteria.py filters, search/matching.py)
           → numbered events stored per subscription (storage port, one commit)
           → delivery.py (one task per subscription: in order, retries with backoff,
             handshake, heartbeat) → channels.py (rest-hook) / websocket.py
    operations.py: Subscription/$status, $events, $get-ws-binding-token

service.py ties them together as one background service of the server. On the SQLite
store, worker.py runs a second one in a child process that matches, numbers and sends the
rest-hook notifications (the server's follows it, for its websocket deliveries).
"""
