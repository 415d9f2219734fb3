-- Writes queued by argus.upsert_node and argus.add_edge in the caller's transaction, applied to
-- the store by the argus applier after the transaction commits (docs/postgres.md).
CREATE TABLE argus.outbox (
    id bigserial PRIMARY KEY,
    op jsonb NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);
-- Writes the store refused (an unknown endpoint, a property of the wrong type), with why.
CREATE TABLE argus.outbox_rejected (
    id bigint PRIMARY KEY,
    op jsonb NOT NULL,
    error text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
