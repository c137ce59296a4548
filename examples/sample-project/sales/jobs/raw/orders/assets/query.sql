-- The landing table is loaded by the point-of-sale export, outside Optimus: it has no
-- upstream job, so the server lists it as an unknown (external) source.
SELECT
  order_id,
  customer_id,
  store_id,
  ordered_at,
  status,
  currency,
  amount
FROM `sample-project.landing.pos_orders`
WHERE DATE(ordered_at) >= DATE('{{.DSTART}}')
  AND DATE(ordered_at) < DATE('{{.DEND}}')
