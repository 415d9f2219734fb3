-- Wrong arguments, unknown names and a missing data directory are clear ERRORs; an unknown key
-- is NULL where documented.
SELECT argus.fraud_score('a3', 'nope');
SELECT argus.fraud_scores(ARRAY['a3'], 'nope');
SELECT argus.explain_score('nobody');
SELECT * FROM argus.neighbors('merchant', 'm1');
SELECT * FROM argus.neighbors('account', 'a3', dir => 'sideways');
SELECT * FROM argus.neighbors('account', 'a3', max => 0);
SELECT * FROM argus.neighbors('account', 'a3', max => 1000001);
SELECT * FROM argus.neighbors('account', 'a3', of_type => 'knows');
SELECT argus.upsert_node('merchant', 'm');
SELECT argus.upsert_node('account', '');
SELECT argus.upsert_node('account', 'x', '{"colour": "red"}');
SELECT argus.upsert_node('account', 'x', '[1, 2]');
SELECT argus.add_edge('knows', 'a1', 'a2');
SELECT argus.add_edge('pays', 'a1', 'a2', now(), '{"amount": "lots"}');
SELECT argus.score_transaction('acct', 'a1', 'a2', now());
SELECT argus.score_transaction('nope', 'a1', 'a2', now());
SELECT argus.score_transaction('acct', 'a1', 'a2', now(), '{"amount": [1]}');
-- Recommendations: k out of range, unknown recommenders, a fraud model where a recommender is
-- wanted, an unknown item, an unknown similarity, lookbooks out of range, a NULL count.
SELECT * FROM argus.recommend('s3', 0);
SELECT * FROM argus.recommend('s3', 10001);
SELECT * FROM argus.recommend('s3', NULL);
SELECT * FROM argus.recommend('s3', 5, model => 'nope');
SELECT * FROM argus.recommend('s3', 5, model => 'acct');
SELECT * FROM argus.recommend('s3', 5, min_price => 50, max_price => 10);
SELECT * FROM argus.similar_items('nothing', 5);
SELECT * FROM argus.similar_items('p7', 5, similarity => 'colour');
SELECT * FROM argus.similar_items('p7', -1);
SELECT * FROM argus.lookbook('s3', 0);
SELECT * FROM argus.lookbook('s3', 3, 1000);
SET argus.default_recommender = 'nope';
SELECT * FROM argus.recommend('s3', 5);
RESET argus.default_recommender;
-- None of the refused writes was queued.
SELECT count(*) AS queued FROM argus.outbox;
-- A missing data directory, in this session only (a superuser may change it).
SET argus.data_directory = '/nonexistent/argus';
SELECT argus.fraud_score('a3');
RESET argus.data_directory;
SELECT argus.fraud_score('a3') > 0.5 AS back;
-- The settings are a superuser's.
CREATE ROLE argus_regress_user LOGIN;
GRANT USAGE ON SCHEMA argus TO argus_regress_user;
SET ROLE argus_regress_user;
SET argus.data_directory = '/tmp';
SET argus.default_model = 'acct';
SET argus.default_recommender = 'shop';
RESET ROLE;
DROP OWNED BY argus_regress_user;
DROP ROLE argus_regress_user;
