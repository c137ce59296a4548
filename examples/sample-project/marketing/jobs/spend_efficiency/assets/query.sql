-- Revenue against campaign spend per day of the window's seven days. daily_revenue belongs
-- to the sales namespace: the server links the two namespaces by the table name alone.
WITH revenue AS (
  SELECT order_date AS day, SUM(revenue_usd) AS revenue_usd
  FROM `sample-project.sales_marts.daily_revenue`
  WHERE order_date >= DATE('{{.DSTART}}')
    AND order_date < DATE('{{.DEND}}')
  GROUP BY day
),
spend AS (
  SELECT budget_date AS day, SUM(budget_usd) AS spend_usd
  FROM `sample-project.marketing_views.current_budgets`
  GROUP BY day
),
clicks AS (
  SELECT touch_date AS day, COUNT(*) AS clicks, COUNT(DISTINCT customer_id) AS customers
  FROM `sample-project.marketing_staging.campaign_touches`
  GROUP BY day
)
SELECT
  r.day,
  r.revenue_usd,
  s.spend_usd,
  c.clicks,
  c.customers,
  SAFE_DIVIDE(r.revenue_usd, s.spend_usd) AS revenue_per_spend_usd
FROM revenue AS r
LEFT JOIN spend AS s ON s.day = r.day
LEFT JOIN clicks AS c ON c.day = r.day
ORDER BY r.day
