-- The user-facing signatures: defaults and timestamptz arguments over the functions the
-- extension's library defines.
CREATE FUNCTION argus.fraud_score(key text) RETURNS float8
    LANGUAGE sql VOLATILE AS $$ SELECT argus.fraud_score(key, NULL::text) $$;
CREATE FUNCTION argus.fraud_scores(keys text[]) RETURNS float8[]
    LANGUAGE sql VOLATILE AS $$ SELECT argus.fraud_scores(keys, NULL::text) $$;
CREATE FUNCTION argus.explain_score(key text) RETURNS jsonb
    LANGUAGE sql VOLATILE AS $$ SELECT argus.explain_score(key, NULL::text) $$;
CREATE FUNCTION argus.score_transaction(
    model text, src text, dst text, at timestamptz, properties jsonb DEFAULT '{}'
) RETURNS float8 LANGUAGE sql VOLATILE AS $$
    SELECT argus.score_transaction_at(model, src, dst,
        (extract(epoch FROM at) * 1000000)::bigint, properties)
$$;
CREATE FUNCTION argus.neighbors(
    label text, key text, of_type text DEFAULT NULL, dir text DEFAULT 'both',
    max integer DEFAULT 100
) RETURNS TABLE (edge_type text, direction text, neighbor_label text, neighbor_key text,
                 at timestamptz)
LANGUAGE sql VOLATILE AS $$
    SELECT n.edge_type, n.direction, n.neighbor_label, n.neighbor_key,
           to_timestamp(n.at_micros / 1000000.0)
    FROM argus.neighbors_of(label, key, of_type, dir, max) AS n
$$;
CREATE FUNCTION argus.upsert_node(label text, key text) RETURNS bigint
    LANGUAGE sql VOLATILE AS $$ SELECT argus.upsert_node(label, key, NULL::jsonb) $$;
CREATE FUNCTION argus.add_edge(
    edge_type text, src text, dst text, at timestamptz DEFAULT NULL, properties jsonb DEFAULT '{}'
) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT argus.add_edge_at(edge_type, src, dst,
        (extract(epoch FROM at) * 1000000)::bigint, properties)
$$;
CREATE FUNCTION argus.wait_applied(id bigint) RETURNS boolean
    LANGUAGE sql VOLATILE AS $$ SELECT argus.wait_applied(id, 10000) $$;
CREATE FUNCTION argus.recommend(
    "user" text, k integer DEFAULT 10, model text DEFAULT NULL,
    exclude_seen boolean DEFAULT true, category text DEFAULT NULL,
    min_price float8 DEFAULT NULL, max_price float8 DEFAULT NULL, as_of timestamptz DEFAULT NULL
) RETURNS TABLE (item text, score float8, reason text)
LANGUAGE sql VOLATILE AS $$
    SELECT r.item, r.score, r.reason
    FROM argus.recommend_at("user", k, model, exclude_seen, category, min_price, max_price,
        (extract(epoch FROM as_of) * 1000000)::bigint) AS r
$$;
CREATE FUNCTION argus.similar_items(
    of_item text, k integer DEFAULT 10, model text DEFAULT NULL,
    similarity text DEFAULT 'interactions'
) RETURNS TABLE (item text, score float8)
LANGUAGE sql VOLATILE AS $$
    SELECT s.item, s.score FROM argus.similar_items_of(of_item, k, model, similarity) AS s
$$;
CREATE FUNCTION argus.lookbook(
    "user" text, collections integer DEFAULT 4, items_per_collection integer DEFAULT 5,
    model text DEFAULT NULL, as_of timestamptz DEFAULT NULL
) RETURNS TABLE (collection integer, title text, "position" integer, item text, name text,
                 categories text, price float8, score float8, reason text)
LANGUAGE sql VOLATILE AS $$
    SELECT l.collection, l.title, l.position, l.item, l.name, l.categories, l.price, l.score,
           l.reason
    FROM argus.lookbook_at("user", collections, items_per_collection, model,
        (extract(epoch FROM as_of) * 1000000)::bigint) AS l
$$;
