-- One row per completed order, in USD. Exchange rates come from finance's reference
-- dataset, which no job of this project writes (an unknown source, no sensor).
SELECT
  o.order_id,
  o.customer_id,
  o.store_id,
  DATE(o.ordered_at) AS order_date,
  ROUND(o.amount * fx.usd_rate, 2) AS amount_usd
FROM `sample-project.sales_raw.orders` AS o
JOIN `sample-project.reference.fx_rates` AS fx
  ON fx.currency = o.currency
 AND fx.rate_date = DATE(o.ordered_at)
WHERE o.status = 'completed'
  AND DATE(o.ordered_at) >= DATE('{{.DSTART}}')
  AND DATE(o.ordered_at) < DATE('{{.DEND}}')
