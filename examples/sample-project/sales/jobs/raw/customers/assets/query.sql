SELECT
  customer_id,
  email,
  country_code,
  signup_at,
  updated_at
FROM `sample-project.landing.crm_customers`
