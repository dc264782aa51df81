-- Migration 6: which server process delivers each subscription's notifications.
--
-- With several server processes on one database every process matches and numbers events
-- (serialised by the matcher's advisory lock), but only the holder of a subscription's
-- lease sends its notifications, so that a receiver gets each event once (at least once
-- across a crash) and in order. A lease runs out unless renewed: a process that dies leaves
-- its subscriptions to the others after `until`.
CREATE TABLE subscription_lease (
  id     text COLLATE "C" PRIMARY KEY,  -- Subscription.id
  owner  text NOT NULL,                 -- the holding process (host:pid:nonce)
  until  timestamptz NOT NULL
);
