-- Scores, batches, explanations and neighbourhoods over the test store (pg_ext/tests/data: a
-- trees model `acct` trained on account.fraud, the cluster's argus.default_model, and a
-- transaction model `txn`, both made by scripts/pg-test.sh).
SELECT argus.fraud_score('a3') > 0.5 AS ring_member_high,
       argus.fraud_score('a300') < 0.5 AS ordinary_low;
SELECT round(argus.fraud_score('a3')::numeric, 2) = round(argus.fraud_score('a3', 'acct')::numeric, 2)
    AS default_model_is_acct;
-- NULL for a NULL or an unknown key.
SELECT argus.fraud_score(NULL) IS NULL AS null_key, argus.fraud_score('nobody') IS NULL AS unknown_key;
-- A batch scores each key as scoring it alone does, and keeps NULL slots in place.
SELECT argus.fraud_scores(ARRAY['a1', 'a350', 'a3'])
     = ARRAY[argus.fraud_score('a1'), argus.fraud_score('a350'), argus.fraud_score('a3')] AS batch_equals_single;
SELECT s IS NULL AS is_null FROM unnest(argus.fraud_scores(ARRAY['a1', NULL, 'nobody', 'a2'])) AS s;
SELECT argus.fraud_scores(NULL) IS NULL AS null_array, argus.fraud_scores(ARRAY[]::text[]) AS empty_array;
-- Explanations: the score and what drove it.
SELECT k FROM jsonb_object_keys(argus.explain_score('a3')) AS k ORDER BY k;
SELECT abs((argus.explain_score('a3')->>'score')::float8 - argus.fraud_score('a3')) < 1e-6 AS explained_score_is_the_score;
-- Neighbourhoods, newest first.
SELECT edge_type, direction, neighbor_label, neighbor_key, at
FROM argus.neighbors('account', 'a3', max => 5);
SELECT count(*) FROM argus.neighbors('account', 'a3', dir => 'out');
SELECT count(*) FROM argus.neighbors('account', 'a3', of_type => 'pays', dir => 'in', max => 1000000);
SELECT count(*) FROM argus.neighbors('account', 'nobody');
-- The store as the backend sees it.
SELECT argus.store_state()->'labels' AS labels, argus.store_state()->'edge_types' AS edge_types;
SELECT m->>'name' AS name, m->>'family' AS family FROM jsonb_array_elements(argus.store_state()->'models') AS m;
