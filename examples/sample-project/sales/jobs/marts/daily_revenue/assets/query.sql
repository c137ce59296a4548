-- Revenue of the window's day per country.
WITH day_orders AS (
  SELECT order_id, customer_id, order_date, amount_usd
  FROM `sample-project.sales_staging.orders`
  WHERE order_date >= DATE('{{.DSTART}}')
    AND order_date < DATE('{{.DEND}}')
)
SELECT
  d.order_date,
  c.country_code,
  COUNT(DISTINCT d.order_id) AS orders,
  COUNT(DISTINCT d.customer_id) AS buyers,
  SUM(d.amount_usd) AS revenue_usd
FROM day_orders AS d
LEFT JOIN `sample-project.sales_staging.customers` AS c
  ON c.customer_id = d.customer_id
GROUP BY d.order_date, c.country_code
