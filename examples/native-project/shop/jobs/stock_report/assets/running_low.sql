-- The products with fewer than 15 units that day: reads what the recipe's first task wrote.
SELECT snapshot_date, product, units
FROM stock.levels
WHERE snapshot_date = substr('{{.DSTART}}', 1, 10)
  AND units < 15
