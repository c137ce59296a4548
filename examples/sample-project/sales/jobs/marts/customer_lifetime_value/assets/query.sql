-- Customer attributes change slowly: the copy from the previous run is good enough, so this
-- job does not wait for the customers job (@ignoreupstream drops that one edge).
SELECT
  c.customer_id,
  c.country_code,
  c.signup_date,
  totals.orders,
  totals.revenue_usd
FROM /* @ignoreupstream */ `sample-project.sales_staging.customers` AS c
JOIN (
  SELECT customer_id, COUNT(*) AS orders, SUM(amount_usd) AS revenue_usd
  FROM `sample-project.sales_staging.orders`
  WHERE order_date < DATE('{{.DEND}}')
  GROUP BY customer_id
) AS totals
  ON totals.customer_id = c.customer_id
