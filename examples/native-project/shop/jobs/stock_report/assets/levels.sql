-- Units in stock of five products at the start of the window's day, the same every time the day
-- is run.
WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 5)
SELECT substr('{{.DSTART}}', 1, 10) AS snapshot_date,
       'product-' || i AS product,
       (i * 37 + CAST(substr('{{.DSTART}}', 9, 2) AS INTEGER) * 11) % 50 AS units
FROM p
