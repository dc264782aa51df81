-- Migration 2: delivery state of subscriptions (the SQLite store's migration 3).

-- One row per Subscription the server delivers for (its resource lives in `resource`).
CREATE TABLE subscription_state (
  id           text    COLLATE "C" PRIMARY KEY,  -- Subscription.id
  status       text    NOT NULL,      -- requested | active | error | off
  start_seq    bigint  NOT NULL,      -- outbox seq that started it: later changes count
  events       bigint  NOT NULL,      -- events-since-subscription-start (numbers given)
  delivered    bigint  NOT NULL,      -- every event up to this number was delivered
  error        text,                  -- the last delivery error while in error
  principal    text,                  -- owner: who created the subscription
  organisation text,
  changed      text    NOT NULL       -- when the status last changed (FHIR instant)
);

-- The events of each subscription, numbered from 1 without gaps: the delivery queue and
-- what $events replays.
CREATE TABLE subscription_event (
  subscription text    COLLATE "C" NOT NULL,
  number       bigint  NOT NULL,
  seq          bigint  NOT NULL,      -- the outbox event (= version.seq)
  type         text    NOT NULL,
  id           text    NOT NULL,
  version      integer NOT NULL,
  method       text    NOT NULL,
  at           text    NOT NULL,
  PRIMARY KEY (subscription, number)
);

-- How far the matcher has read the outbox.
CREATE TABLE subscription_cursor (
  name text   PRIMARY KEY,
  seq  bigint NOT NULL
);
