-- Twenty orders for the window's day, the same every time the day is run.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
SELECT substr('{{.DSTART}}', 1, 10) || '-' || printf('%03d', i) AS order_id,
       substr('{{.DSTART}}', 1, 10) AS order_date,
       'store-' || (i % 3) AS store,
       (i * 7) % 5 + 1 AS quantity,
       round(((i * 53) % 90 + 10) * 1.25, 2) AS price
FROM n
