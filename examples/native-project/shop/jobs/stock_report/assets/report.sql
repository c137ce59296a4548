-- One line per day, from the two tables the recipe's earlier tasks wrote.
SELECT l.snapshot_date,
       count(*) AS products,
       sum(l.units) AS units,
       (SELECT count(*) FROM stock.running_low r WHERE r.snapshot_date = l.snapshot_date) AS running_low
FROM stock.levels l
WHERE l.snapshot_date = substr('{{.DSTART}}', 1, 10)
GROUP BY l.snapshot_date
