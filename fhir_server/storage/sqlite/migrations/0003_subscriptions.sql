-- Migration 3: delivery state of subscriptions.

-- One row per Subscription the server delivers for (its resource lives in `resource`).
CREATE TABLE IF NOT EXISTS subscription_state (
  id           TEXT    PRIMARY KEY,   -- Subscription.id
  status       TEXT    NOT NULL,      -- requested | active | error | off
  start_seq    INTEGER NOT NULL,      -- outbox seq that started it: later changes count
  events       INTEGER NOT NULL,      -- events-since-subscription-start (numbers given)
  delivered    INTEGER NOT NULL,      -- every event up to this number was delivered
  error        TEXT,                  -- the last delivery error while in error
  principal    TEXT,                  -- owner: who created the subscription
  organisation TEXT,
  changed      TEXT    NOT NULL       -- when the status last changed (FHIR instant)
);

-- The events of each subscription, numbered from 1 without gaps: the delivery queue and
-- what $events replays.
CREATE TABLE IF NOT EXISTS subscription_event (
  subscription TEXT    NOT NULL,
  number       INTEGER NOT NULL,
  seq          INTEGER NOT NULL,      -- the outbox event (= version.seq)
  type         TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  method       TEXT    NOT NULL,
  at           TEXT    NOT NULL,
  PRIMARY KEY (subscription, number)
) WITHOUT ROWID;

-- How far the matcher has read the outbox.
CREATE TABLE IF NOT EXISTS subscription_cursor (
  name TEXT    PRIMARY KEY,
  seq  INTEGER NOT NULL
);
