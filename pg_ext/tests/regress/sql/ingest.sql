-- Writes from SQL reach the graph after their transaction commits, once; an aborted one never.
SELECT (argus.store_state()->'edge_types'->>'pays')::int AS pays_before \gset
SELECT argus.upsert_node('account', 'fresh', '{"fraud": 0}') AS id \gset
SELECT argus.wait_applied(:id) AS applied;
SELECT argus.fraud_score('fresh') IS NOT NULL AS fresh_is_scored;
BEGIN;
SELECT argus.upsert_node('account', 'aborted') > 0 AS queued;
SELECT argus.add_edge('pays', 'a1', 'a2', now(), '{"amount": 1}') > 0 AS queued;
ROLLBACK;
SELECT argus.add_edge('pays', 'fresh', 'a3', '2023-11-15 00:00:00+00', '{"amount": 12.5}') AS id \gset
SELECT argus.wait_applied(:id) AS applied;
SELECT argus.fraud_score('aborted') IS NULL AS aborted_never_applied;
SELECT (argus.store_state()->'edge_types'->>'pays')::int - :pays_before AS pays_added;
SELECT neighbor_key, at FROM argus.neighbors('account', 'fresh');
-- A trigger feeds the graph from a table the application writes.
CREATE TABLE payment (src text, dst text, at timestamptz, amount float8);
CREATE FUNCTION payment_to_graph() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM argus.add_edge('pays', NEW.src, NEW.dst, NEW.at, jsonb_build_object('amount', NEW.amount));
    RETURN NEW;
END $$;
CREATE TRIGGER payment_to_graph AFTER INSERT ON payment FOR EACH ROW EXECUTE FUNCTION payment_to_graph();
INSERT INTO payment VALUES ('a10', 'fresh', '2023-11-16 00:00:00+00', 3), ('a11', 'fresh', '2023-11-17 00:00:00+00', 4);
SELECT argus.wait_applied((SELECT coalesce(max(id), 0) FROM argus.outbox)) AS applied;
SELECT neighbor_key FROM argus.neighbors('account', 'fresh', dir => 'in');
-- A write the store refuses when it applies (an endpoint that does not exist) is kept, with why.
SELECT argus.add_edge('pays', 'a1', 'ghost', now()) AS id \gset
SELECT argus.wait_applied(:id) AS left_the_outbox;
SELECT error FROM argus.outbox_rejected WHERE id = :id;
-- A BEFORE INSERT trigger scores a payment that is not stored yet with the transaction model.
CREATE TABLE scored_payment (src text, dst text, at timestamptz, amount float8, risk float8);
CREATE FUNCTION score_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.risk := argus.score_transaction('txn', NEW.src, NEW.dst, NEW.at, jsonb_build_object('amount', NEW.amount));
    RETURN NEW;
END $$;
CREATE TRIGGER score_payment BEFORE INSERT ON scored_payment FOR EACH ROW EXECUTE FUNCTION score_payment();
INSERT INTO scored_payment VALUES ('a3', 'a5', '2023-11-20 00:00:00+00', 150, NULL),
                                  ('a300', 'a301', '2023-11-20 00:00:00+00', 150, NULL);
SELECT src, risk BETWEEN 0 AND 1 AS is_probability FROM scored_payment ORDER BY src;
SELECT argus.score_transaction('txn', 'a3', 'a5', '2023-11-20 00:00:00+00', '{"amount": 150}')
     = (SELECT risk FROM scored_payment WHERE src = 'a3') AS trigger_score_is_the_function_score;
DROP TABLE payment, scored_payment;
DROP FUNCTION payment_to_graph(), score_payment();
