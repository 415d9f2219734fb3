-- argus 0.1.0 -> 0.2.0: recommendations, similar items and lookbooks (docs/postgres/).
-- The library functions, as `cargo pgrx schema` generates them for 0.2.0.
-- argus::recs::lookbook_at
CREATE  FUNCTION "lookbook_at"(
	"user" TEXT, /* Option < & str > */
	"collections" INT, /* i32 */
	"items_per_collection" INT, /* i32 */
	"model" TEXT, /* Option < & str > */
	"as_of_micros" bigint /* Option < i64 > */
) RETURNS TABLE (
	"collection" INT,  /* i32 */
	"title" TEXT,  /* String */
	"position" INT,  /* i32 */
	"item" TEXT,  /* String */
	"name" TEXT,  /* Option < String > */
	"categories" TEXT,  /* String */
	"price" double precision,  /* Option < f64 > */
	"score" double precision,  /* f64 */
	"reason" TEXT  /* String */
)

LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lookbook_at_wrapper';

-- argus::recs::recommend_at
CREATE  FUNCTION "recommend_at"(
	"user" TEXT, /* Option < & str > */
	"k" INT, /* i32 */
	"model" TEXT, /* Option < & str > */
	"exclude_seen" bool, /* Option < bool > */
	"category" TEXT, /* Option < & str > */
	"min_price" double precision, /* Option < f64 > */
	"max_price" double precision, /* Option < f64 > */
	"as_of_micros" bigint /* Option < i64 > */
) RETURNS TABLE (
	"item" TEXT,  /* String */
	"score" double precision,  /* f64 */
	"reason" TEXT  /* String */
)

LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'recommend_at_wrapper';

-- argus::recs::similar_items_of
CREATE  FUNCTION "similar_items_of"(
	"item" TEXT, /* Option < & str > */
	"k" INT, /* i32 */
	"model" TEXT, /* Option < & str > */
	"similarity" TEXT /* Option < & str > */
) RETURNS TABLE (
	"item" TEXT,  /* String */
	"score" double precision  /* f64 */
)

LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'similar_items_of_wrapper';

-- The user-facing signatures over them (pg_ext/sql/functions.sql).
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
