-- The CRM copy keeps every version of a customer; keep the latest one. `latest` is a CTE,
-- the query's own name, so it is not a table and not an upstream.
WITH latest AS (
  SELECT
    customer_id,
    LOWER(email) AS email,
    country_code,
    signup_at,
    ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) AS rn
  FROM `sample-project.sales_raw.customers`
)
SELECT customer_id, email, country_code, DATE(signup_at) AS signup_date
FROM latest
WHERE rn = 1
