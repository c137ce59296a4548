SELECT
  click_id,
  campaign_id,
  customer_id,
  DATE(clicked_at) AS touch_date
FROM `sample-project.landing.ad_clicks`
WHERE DATE(clicked_at) >= DATE('{{.DSTART}}')
  AND DATE(clicked_at) < DATE('{{.DEND}}')
  AND campaign_id IS NOT NULL
