-- Recommendations, similar items and lookbooks from the recommender `shop` (a generated
-- shopping graph in the test store, made by scripts/pg-test.sh, which also copies its
-- products.csv here). `shop` is the only recommender, so no argument or setting names it.
CREATE TEMP TABLE products (sku text, name text, category text, brand text, price float8,
                            tags text, style_vector text);
\copy products FROM 'products.csv' WITH (FORMAT csv, HEADER)
-- k items, each once, each with the shopper's interactions that led to it, best first.
SELECT count(*) AS items, count(DISTINCT item) AS distinct_items,
       bool_and(reason <> '' AND reason <> 'popular') AS all_explained
FROM argus.recommend('s3', 8);
SELECT bool_and(score <= previous) AS best_first
FROM (SELECT score, lag(score) OVER () AS previous FROM argus.recommend('s3', 30)) AS r
WHERE previous IS NOT NULL;
-- Items the shopper already had are left out, unless asked for.
SELECT count(*) AS seen_items_recommended
FROM argus.recommend('s3', 100) AS r
JOIN argus.neighbors('shopper', 's3', max => 10000) AS n ON n.neighbor_key = r.item;
SELECT count(*) > 0 AS seen_items_when_asked
FROM argus.recommend('s3', 100, exclude_seen => false) AS r
JOIN argus.neighbors('shopper', 's3', max => 10000) AS n ON n.neighbor_key = r.item;
-- Filters: one category, a price range.
SELECT count(*) AS items, bool_and(p.category = 'bags') AS all_bags,
       bool_and(p.price BETWEEN 20 AND 100) AS all_in_range
FROM argus.recommend('s3', 5, category => 'bags', min_price => 20, max_price => 100) AS r
JOIN products AS p ON p.sku = r.item;
-- An unknown shopper gets the most popular items, the same for every unknown shopper; a NULL
-- shopper, no rows; as of a time before any interaction, a known shopper is unknown too.
SELECT count(*) AS items, bool_and(reason = 'popular') AS popular FROM argus.recommend('nobody', 5);
SELECT (SELECT array_agg(item) FROM argus.recommend('nobody', 5))
     = (SELECT array_agg(item) FROM argus.recommend('nobody else', 5)) AS same_for_all_unknown;
SELECT count(*) AS items FROM argus.recommend(NULL, 5);
SELECT (SELECT array_agg(item) FROM argus.recommend('s3', 5, as_of => '2000-01-01'))
     = (SELECT array_agg(item) FROM argus.recommend('nobody', 5)) AS as_of_before_history;
-- Similar items: by what shoppers did, or by the style vector (cosine).
SELECT count(*) AS items, bool_and(item <> 'p7') AS not_itself FROM argus.similar_items('p7', 5);
SELECT count(*) AS items, bool_and(item <> 'p7') AS not_itself,
       bool_and(score BETWEEN -1.0001 AND 1.0001) AS cosines
FROM argus.similar_items('p7', 5, similarity => 'vector');
SELECT count(*) AS items FROM argus.similar_items(NULL, 5);
-- A lookbook: collections of distinct items, each titled, in reading order, with the items'
-- names, categories and prices from the catalogue.
SELECT count(DISTINCT collection) AS collections, count(*) AS items,
       count(DISTINCT item) AS distinct_items, bool_and(title <> '') AS titled
FROM argus.lookbook('s3', 3, 4);
SELECT collection, array_agg(position ORDER BY position) = ARRAY[1, 2, 3, 4] AS in_order
FROM argus.lookbook('s3', 3, 4) GROUP BY collection ORDER BY collection;
SELECT bool_and(l.name = p.name AND l.categories = p.category AND abs(l.price - p.price) < 0.01)
    AS catalogue_details
FROM argus.lookbook('s3') AS l JOIN products AS p ON p.sku = l.item;
